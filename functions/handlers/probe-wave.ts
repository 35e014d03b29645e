import * as z from "zod";
import { describeAlarmStates } from "../aws/cloudwatch";
import { describeInstances } from "../aws/ec2";
import { describeHealthAcross } from "../aws/elbv2";
import { type HttpProbeResult, probeInstanceHttp } from "../aws/http-probe";
import { InstanceIdSchema, RolloutPolicySchema } from "../engine/policy";
import { ReplacementTargetSchema, StepSchema } from "../engine/schemas";
import { judgeProbes, type ProbeVerdict } from "../engine/wave";
import { now } from "../runtime/clock";
import { phoenixHandler } from "../runtime/handler";
import { logger } from "../runtime/observability";

const ProbeWaveInputSchema = StepSchema.extend({
  waveIndex: z.number().int().min(0),
  instanceIds: z.array(InstanceIdSchema).min(1),
  target: ReplacementTargetSchema,
  targetGroupArns: z.array(z.string()),
  policy: RolloutPolicySchema,
  /** "launch": right after the wave is ready; "bake": after the bake time. */
  phase: z.enum(["launch", "bake"]),
});

/** The verdict plus how long the state machine should bake before probing again (0: go on). */
export interface ProbeStepResult extends ProbeVerdict {
  phase: "launch" | "bake";
  bakeSeconds: number;
  probedAt: string;
}

/** Probes a ready wave: target health, image, optional HTTP endpoint, optional CloudWatch alarms. */
async function probeWaveStep(input: typeof ProbeWaveInputSchema._output): Promise<ProbeStepResult> {
  const { instanceIds, target, targetGroupArns, policy, phase } = input;
  const instances = await describeInstances(instanceIds);
  const targetHealth = await describeHealthAcross(targetGroupArns, instanceIds);
  const httpPolicy = policy.probes.http;
  const http = httpPolicy
    ? await Promise.all(
        instances.map(
          async (instance): Promise<HttpProbeResult & { instanceId: string }> => ({
            instanceId: instance.instanceId,
            ...(instance.privateIpAddress
              ? await probeInstanceHttp(
                  instance.privateIpAddress,
                  httpPolicy.port,
                  httpPolicy.path,
                  httpPolicy.timeoutSeconds * 1000,
                )
              : { error: "no private IP address" }),
          }),
        ),
      )
    : [];
  const alarms = await describeAlarmStates(policy.probes.alarms);
  const verdict = judgeProbes({
    waveInstanceIds: instanceIds,
    evidence: { instances, targetGroupArns, targetHealth, http, alarms },
    target,
    policy,
  });
  logger.info("wave probed", {
    wave: input.waveIndex,
    phase,
    passed: verdict.passed,
    reasons: verdict.reasons,
  });
  return {
    ...verdict,
    phase,
    bakeSeconds: phase === "launch" && verdict.passed ? policy.probes.bakeSeconds : 0,
    probedAt: now().toISOString(),
  };
}

export const handler = phoenixHandler(ProbeWaveInputSchema, probeWaveStep);
