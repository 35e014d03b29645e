// An AWS-compatible endpoint on 127.0.0.1 for tests that run Phoenix as a separate process (osls invoke
// local, the phoenix command): it records every request (service, operation, region it was signed for,
// access key, body) and answers the operations a test names, in that service's wire protocol. Anything
// else gets the protocol's error, so a call the test did not expect fails loudly.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** One request the endpoint received. */
export interface FakeAwsRequest {
  /** e.g. "states:StartExecution", "autoscaling:DescribeAutoScalingGroups", "lambda:Invoke". */
  operation: string;
  /** The region and access key of the SigV4 signature. */
  region?: string;
  accessKeyId?: string;
  path: string;
  body: string;
}

/** How to answer one operation: a JSON value (JSON protocols) or XML text (query protocols), with a status. */
export type FakeAnswer = { status?: number; json?: unknown; xml?: string; body?: string };

/** The endpoint: its URL, what it received, and how to stop it. */
export interface FakeAws {
  url: string;
  requests: FakeAwsRequest[];
  close(): Promise<void>;
}

const read = (request: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => resolve(body));
  });

/** The service and operation of a request, from its X-Amz-Target, its query Action or its REST path. */
function operationOf(request: IncomingMessage, body: string, service: string): string {
  const target = request.headers["x-amz-target"];
  if (typeof target === "string") return `${service}:${target.split(".").at(-1)}`;
  const action = new URLSearchParams(body).get("Action");
  if (action) return `${service}:${action}`;
  if (service === "lambda" && /\/functions\/[^/]+\/invocations$/.test(request.url ?? ""))
    return "lambda:Invoke";
  return `${service}:${request.method} ${request.url}`;
}

/** Starts the endpoint; `answers` maps "service:Operation" to an answer or a function of the request. */
export async function startFakeAws(
  answers: Record<string, FakeAnswer | ((request: FakeAwsRequest) => FakeAnswer)>,
): Promise<FakeAws> {
  const requests: FakeAwsRequest[] = [];
  const server: Server = createServer(async (request, response) => {
    const body = await read(request);
    const scope = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\//.exec(
      String(request.headers.authorization ?? ""),
    );
    const service = scope?.[3] ?? "unknown";
    const received: FakeAwsRequest = {
      operation: operationOf(request, body, service),
      region: scope?.[2],
      accessKeyId: scope?.[1],
      path: request.url ?? "",
      body,
    };
    requests.push(received);
    const found = answers[received.operation];
    const answer = typeof found === "function" ? found(received) : found;
    if (!answer) {
      response.writeHead(400, { "content-type": "application/x-amz-json-1.0" });
      response.end(
        JSON.stringify({ __type: "UnknownOperationException", message: `not faked: ${received.operation}` }),
      );
      return;
    }
    if (answer.xml !== undefined) {
      response.writeHead(answer.status ?? 200, { "content-type": "text/xml" });
      response.end(answer.xml);
    } else {
      response.writeHead(answer.status ?? 200, { "content-type": "application/x-amz-json-1.0" });
      response.end(answer.body ?? JSON.stringify(answer.json ?? {}));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An Auto Scaling (awsQuery) answer with the given result XML. */
export const autoScalingXml = (operation: string, result: string) =>
  `<${operation}Response xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><${operation}Result>${result}</${operation}Result><ResponseMetadata><RequestId>fake-aws</RequestId></ResponseMetadata></${operation}Response>`;
