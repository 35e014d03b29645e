// Runs the phoenix command in-process, as the CLI tests need it: its output captured, no colour.
import type { Backend } from "../cli/backends";
import { runPhoenix, type Target } from "../cli/program";

/** Runs `phoenix <argv>` with the given backends; resolves with the exit code and what it printed. */
export async function runCaptured(
  argv: string[],
  backendFor: (target: Target) => Promise<Backend>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runPhoenix(
    argv,
    {
      out: (text) => {
        stdout += text;
      },
      err: (text) => {
        stderr += text;
      },
      color: false,
    },
    backendFor,
  );
  return { code, stdout, stderr };
}
