// Simulator scale, in its own process so that its CPU time is its own: Phoenix rotates one group of N
// instances (default 5,000) at its default policy on the simulated account, and this prints one JSON line
// with the CPU the rotation took and the CPU of the whole process (Node, tsx, loading every module).
// Usage: tsx bench/sim-scale.ts <instances>
import "../local/env";
import { DEFAULT_POLICY, fleet, rotatePhoenix } from "./makespan";

const instances = Number(process.argv[2] ?? 5000);
const before = process.cpuUsage();
const started = performance.now();
const rotation = await rotatePhoenix(fleet(instances, 1), DEFAULT_POLICY, { defaultPolicy: true });
const cpu = process.cpuUsage(before);
const whole = process.cpuUsage();
console.log(
  JSON.stringify({
    instances,
    rotationCpuSeconds: (cpu.user + cpu.system) / 1e6,
    processCpuSeconds: (whole.user + whole.system) / 1e6,
    wallSeconds: (performance.now() - started) / 1000,
    peakRssMegabytes: process.resourceUsage().maxRSS / 1024,
    simulatedSeconds: rotation.makespanSeconds,
    waves: rotation.waves,
  }),
);
