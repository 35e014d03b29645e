import { clientFor } from "./clients";

/** Answer of one HTTP probe: a status code, or the error that prevented one. */
export interface HttpProbeResult {
  status?: number;
  error?: string;
}

/** Something that can GET a URL with a timeout; the simulator injects its own. */
export interface HttpProber {
  get(url: string, timeoutMs: number): Promise<HttpProbeResult>;
}

const fetchProber: HttpProber = {
  async get(url, timeoutMs) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
      await response.body?.cancel();
      return { status: response.status };
    } catch (error) {
      const name = (error as Error).name;
      return {
        error: name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (error as Error).message,
      };
    }
  },
};

/** GETs http://<ip>:<port><path> from inside the VPC (the Lambda runs there when HTTP probes are on). */
export async function probeInstanceHttp(
  privateIpAddress: string,
  port: number,
  path: string,
  timeoutMs: number,
): Promise<HttpProbeResult> {
  return clientFor<HttpProber>("httpProbe", () => fetchProber).get(
    `http://${privateIpAddress}:${port}${path}`,
    timeoutMs,
  );
}
