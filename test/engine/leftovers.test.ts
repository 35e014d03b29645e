import { describe, expect, it } from "vitest";
import { planLeftovers } from "../../functions/engine/leftovers";

const EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:phoenix-replace-group-dev:sweep-web";
const retiring = (id: string, extra: Record<string, string> = {}, state = "running") => ({
  instanceId: id,
  state,
  tags: { "phoenix:retiring": EXECUTION, ...extra },
});

describe("instances a replacement left out of service", () => {
  it("terminates those in no group whose execution no longer runs, whatever way it ended", () => {
    for (const status of ["ABORTED", "TIMED_OUT", "FAILED", "SUCCEEDED", "FORGOTTEN"]) {
      expect(
        planLeftovers([retiring("i-2"), retiring("i-1")], new Map(), new Map([[EXECUTION, status]])),
      ).toEqual({ terminate: ["i-1", "i-2"], left: [] });
    }
  });

  it("leaves the quarantined, the shutting down, members still draining, and those its running execution reaps", () => {
    const plan = planLeftovers(
      [
        retiring("i-1", { "phoenix:quarantined": "IR-7" }),
        retiring("i-2", {}, "shutting-down"),
        retiring("i-3"),
        retiring("i-4"),
      ],
      new Map([["i-3", "web-prod"]]),
      new Map([[EXECUTION, "ABORTED"]]),
    );
    expect(plan.terminate).toEqual(["i-4"]);
    expect(plan.left).toEqual([
      { instanceId: "i-1", why: "quarantined" },
      { instanceId: "i-2", why: "already shutting-down" },
      { instanceId: "i-3", why: "still in web-prod (draining or detaching)" },
    ]);
    expect(planLeftovers([retiring("i-5")], new Map(), new Map([[EXECUTION, "RUNNING"]]))).toEqual({
      terminate: [],
      left: [{ instanceId: "i-5", why: "its execution still runs and reaps it" }],
    });
  });

  it("keeps them while the execution's status is unknown (fail closed)", () => {
    expect(planLeftovers([retiring("i-6")], new Map(), new Map())).toEqual({
      terminate: [],
      left: [{ instanceId: "i-6", why: `the status of ${EXECUTION} is unknown` }],
    });
    expect(
      planLeftovers([{ instanceId: "i-7", tags: { "phoenix:retiring": "" } }], new Map(), new Map())
        .terminate,
    ).toEqual([]);
  });
});
