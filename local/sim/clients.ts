import * as AutoScaling from "@aws-sdk/client-auto-scaling";
import * as CloudWatch from "@aws-sdk/client-cloudwatch";
import * as EC2 from "@aws-sdk/client-ec2";
import * as ElasticLoadBalancingV2 from "@aws-sdk/client-elastic-load-balancing-v2";
import * as EventBridge from "@aws-sdk/client-eventbridge";
import * as IAM from "@aws-sdk/client-iam";
import * as Imagebuilder from "@aws-sdk/client-imagebuilder";
import * as KMS from "@aws-sdk/client-kms";
import * as SFN from "@aws-sdk/client-sfn";
import * as SSM from "@aws-sdk/client-ssm";
import { mockClient } from "aws-sdk-client-mock";
import type { ClientName } from "../../functions/aws/clients";
import type { HttpProber } from "../../functions/aws/http-probe";
import { currentCaller } from "./callers";
import type { SimCaller } from "./model";
import { ROUTES, type Route } from "./routes";
import { SimAwsError, type SimWorld } from "./world";

// Each service's SDK client class, its command module and its exception base class.
const SERVICES = {
  autoscaling: {
    name: "autoScaling",
    module: AutoScaling,
    Client: AutoScaling.AutoScalingClient,
    Exception: AutoScaling.AutoScalingServiceException,
  },
  ec2: { name: "ec2", module: EC2, Client: EC2.EC2Client, Exception: EC2.EC2ServiceException },
  elbv2: {
    name: "elbv2",
    module: ElasticLoadBalancingV2,
    Client: ElasticLoadBalancingV2.ElasticLoadBalancingV2Client,
    Exception: ElasticLoadBalancingV2.ElasticLoadBalancingV2ServiceException,
  },
  cloudwatch: {
    name: "cloudWatch",
    module: CloudWatch,
    Client: CloudWatch.CloudWatchClient,
    Exception: CloudWatch.CloudWatchServiceException,
  },
  events: {
    name: "eventBridge",
    module: EventBridge,
    Client: EventBridge.EventBridgeClient,
    Exception: EventBridge.EventBridgeServiceException,
  },
  sfn: { name: "sfn", module: SFN, Client: SFN.SFNClient, Exception: SFN.SFNServiceException },
  imagebuilder: {
    name: "imageBuilder",
    module: Imagebuilder,
    Client: Imagebuilder.ImagebuilderClient,
    Exception: Imagebuilder.ImagebuilderServiceException,
  },
  ssm: { name: "ssm", module: SSM, Client: SSM.SSMClient, Exception: SSM.SSMServiceException },
  iam: { name: "iam", module: IAM, Client: IAM.IAMClient, Exception: IAM.IAMServiceException },
  kms: { name: "kms", module: KMS, Client: KMS.KMSClient, Exception: KMS.KMSServiceException },
} as const;

/** A call the simulated account answered (or refused), for cost figures and dry-run assertions. */
export interface SimCall {
  at: number;
  operation: string;
  mutating: boolean;
  input: unknown;
  error?: string;
  /** The Phoenix function that made the call (from the local runner), if known. */
  caller?: SimCaller;
}

/** Answers one API call the way AWS would: latency, throttling, then the route's answer or its error. */
export function answerCall(world: SimWorld, route: Route, input: unknown, journal: SimCall[]): unknown {
  const operation = `${route.service}:${route.operation}`;
  world.apiLatency();
  world.countCall(operation);
  const caller = currentCaller();
  const call: SimCall = { at: world.clock.now(), operation, mutating: route.mutating, input, caller };
  journal.push(call);
  try {
    if (world.faults.throttleShare > 0 && world.random.chance(world.faults.throttleShare)) {
      throw new SimAwsError(
        route.throttleCode,
        "Rate exceeded",
        route.throttleCode === "RequestLimitExceeded" ? 503 : 400,
      );
    }
    world.takeToken(route.bucket, route.throttleCode);
    const refusal = world.refusalOf(operation, input);
    if (refusal) throw refusal;
    const output = world.as("phoenix", () => route.answer(world, input), caller);
    world.changed();
    return output;
  } catch (error) {
    if (error instanceof SimAwsError) {
      call.error = error.code;
      if (error.code === route.throttleCode) world.countCall(operation, world.throttled);
    }
    throw error;
  }
}

/** Evaluates the call's IAM authorizations first; a denied call is journaled with its error and fails. */
async function refusedIfDenied(
  world: SimWorld,
  route: Route,
  input: unknown,
  journal: SimCall[],
  authorize: (service: string, operation: string, input: unknown) => Promise<void>,
): Promise<void> {
  try {
    await authorize(route.service, route.operation, input);
  } catch (error) {
    if (error instanceof SimAwsError) {
      const operation = `${route.service}:${route.operation}`;
      journal.push({ at: world.clock.now(), operation, mutating: route.mutating, input, error: error.code });
    }
    throw error;
  }
}

/** The simulated account's journal of calls and the clients that talk to it. */
export interface SimClients {
  clients: Partial<Record<ClientName, unknown>>;
  journal: SimCall[];
}

/**
 * Real AWS SDK clients whose `send` is answered by the simulated account (aws-sdk-client-mock on each client
 * instance, so nothing else in the process is affected). Phoenix's adapters use them without knowing.
 */
export function createSimClients(
  world: SimWorld,
  extraRoutes: Route[] = [],
  /** IAM: throws the service's access error when the calling function may not make the call (local/sim/iam.ts). */
  authorize?: (service: string, operation: string, input: unknown) => Promise<void>,
): SimClients {
  const journal: SimCall[] = [];
  const clients: Partial<Record<ClientName, unknown>> = {};
  const credentials = { accessKeyId: "SIMULATED", secretAccessKey: "SIMULATED" };
  for (const [service, spec] of Object.entries(SERVICES)) {
    const client = new spec.Client({ region: world.region, credentials });
    const stub = mockClient(client as never) as ReturnType<typeof mockClient>;
    stub.onAnyCommand().callsFake((input: unknown) => {
      throw new Error(
        `The simulator does not implement this ${service} call (input ${JSON.stringify(input)})`,
      );
    });
    for (const route of [...ROUTES, ...extraRoutes].filter((item) => item.service === service)) {
      const Command = (spec.module as unknown as Record<string, unknown>)[`${route.operation}Command`];
      if (!Command) throw new Error(`No SDK command for ${service}:${route.operation}`);
      stub.on(Command as never).callsFake(async (input: unknown) => {
        try {
          if (authorize) await refusedIfDenied(world, route, input, journal, authorize);
          const output = answerCall(world, route, structuredClone(input), journal);
          return {
            $metadata: { httpStatusCode: 200, requestId: world.random.hex(32) },
            ...(output as object),
          };
        } catch (error) {
          if (!(error instanceof SimAwsError)) throw error;
          throw new spec.Exception({
            name: error.code,
            $fault: error.fault,
            $metadata: { httpStatusCode: error.httpStatusCode, requestId: world.random.hex(32) },
            message: error.message,
          });
        }
      });
    }
    clients[spec.name] = client;
  }
  clients.httpProbe = simHttpProber(world);
  return { clients, journal };
}

/** Answers HTTP probes from the instance's application state; a silent instance costs the whole timeout. */
function simHttpProber(world: SimWorld): HttpProber {
  return {
    async get(url, timeoutMs) {
      const host = new URL(url).hostname;
      const instance = [...world.instances.values()].find(
        (item) => item.privateIpAddress === host && item.state !== "terminated",
      );
      world.apiLatency();
      if (instance && world.answers(instance)) return { status: instance.httpStatus };
      world.clock.advanceBy(timeoutMs);
      return { error: `no answer within ${timeoutMs} ms` };
    },
  };
}
