// The group lock against a real DynamoDB implementation (dynalite, in this process): conditional writes,
// lease expiry and ownership behave as they do in AWS.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useClients } from "../../functions/aws/clients";
import { acquireGroupLock, readGroupLock, releaseGroupLock, renewGroupLock } from "../../functions/aws/lock";
import { ReplacementInProgressError } from "../../functions/engine/errors";
import { buildWorld, loadScenario } from "../../local/scenario";
import { type EmbeddedDynamoDb, startEmbeddedDynamoDb } from "../../local/sim/dynamodb";

const tableName = "phoenix-lock-test";
let dynamodb: EmbeddedDynamoDb;

beforeAll(async () => {
  dynamodb = await startEmbeddedDynamoDb(buildWorld(loadScenario("default")), tableName, []);
  useClients({ dynamodb: dynamodb.client });
});
afterAll(async () => {
  useClients({});
  await dynamodb.close();
});

const t0 = new Date("2026-11-23T09:00:00Z");
const later = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const lock = (groupName: string, owner: string, now = t0, leaseSeconds = 600) =>
  acquireGroupLock({ tableName, groupName, owner, now, leaseSeconds });

describe("group lock", () => {
  it("lets exactly one of several concurrent starts win", async () => {
    const results = await Promise.allSettled(
      ["a", "b", "c", "d"].map((owner) => lock("web-1", `exec-${owner}`)),
    );
    expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
    const losers = results.filter((result): result is PromiseRejectedResult => result.status === "rejected");
    expect(losers).toHaveLength(3);
    for (const loser of losers) {
      expect(loser.reason).toBeInstanceOf(ReplacementInProgressError);
      expect(loser.reason.message).toMatch(/already being replaced by exec-/);
    }
  });

  it("is re-entrant for its owner, so a retried step does not lock itself out", async () => {
    await lock("web-2", "exec-1");
    await expect(lock("web-2", "exec-1", later(5))).resolves.toMatchObject({ owner: "exec-1" });
  });

  it("can be taken over once the holder's lease expired (a crashed execution)", async () => {
    await lock("web-3", "crashed", t0, 600);
    await expect(lock("web-3", "next", later(599))).rejects.toBeInstanceOf(ReplacementInProgressError);
    await expect(lock("web-3", "next", later(601))).resolves.toMatchObject({ owner: "next" });
    // The crashed execution cannot renew or release what it lost.
    await expect(
      renewGroupLock({ tableName, groupName: "web-3", owner: "crashed", now: later(602), leaseSeconds: 600 }),
    ).rejects.toBeInstanceOf(ReplacementInProgressError);
    expect(await releaseGroupLock({ tableName, groupName: "web-3", owner: "crashed" })).toBe(false);
    expect((await readGroupLock(tableName, "web-3"))?.owner).toBe("next");
  });

  it("renewing extends the lease; releasing frees the group", async () => {
    await lock("web-4", "exec-1", t0, 600);
    const expiresAt = await renewGroupLock({
      tableName,
      groupName: "web-4",
      owner: "exec-1",
      now: later(500),
      leaseSeconds: 600,
    });
    expect(expiresAt).toBe(Math.floor(later(1100).getTime() / 1000));
    await expect(lock("web-4", "exec-2", later(700))).rejects.toBeInstanceOf(ReplacementInProgressError);
    expect(await releaseGroupLock({ tableName, groupName: "web-4", owner: "exec-1" })).toBe(true);
    await expect(lock("web-4", "exec-2", later(701))).resolves.toMatchObject({ owner: "exec-2" });
  });
});
