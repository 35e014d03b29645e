// A Serverless Framework plugin that gives the packaged stack what an operator needs to hear about
// failures nobody is watching, derived from the template itself so that a function or rule added later is
// covered too:
// - on every Lambda function, a CloudWatch alarm on its Errors and one on its Throttles, notifying the
//   stack's alarm topic. A function a state machine runs has its errors retried or caught by that state
//   machine (whose failed executions alarm on their own), so it alarms only on a sustained error rate
//   (param stepErrorAlarmThreshold, in 15 minutes); every other function (triggers, the sweep, the janitor,
//   the functions `phoenix` invokes) alarms on its first error;
// - on every EventBridge rule target, a dead-letter queue (SQS) and a retry policy: an event EventBridge
//   could not deliver (the function throttled or unreachable past the retries) lands in the queue instead of
//   being dropped, and an alarm fires as soon as the queue holds one. The queue's policy lets EventBridge
//   send to it only on behalf of this stack's rules.
//   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
// It runs at the end of packaging, after the functions, the rules (serverless.yml, serverless-step-functions)
// and resources are compiled.
const TOPIC = "PhoenixAlarmTopic";
const QUEUE = "PhoenixDeadLetterQueue";

/** The function keys a state machine definition calls (Fn::GetAtt [key, Arn], as ASL Task resources). */
function functionsRunByStateMachines(stateMachines) {
  const keys = new Set();
  const text = JSON.stringify(Object.values(stateMachines ?? {}).map((machine) => machine.definition));
  for (const match of text.matchAll(/"Fn::GetAtt":\["([A-Za-z0-9]+)","Arn"\]/g)) keys.add(match[1]);
  return keys;
}

const alarm = (properties) => ({
  Type: "AWS::CloudWatch::Alarm",
  Properties: {
    AlarmActions: [{ Ref: TOPIC }],
    OKActions: [{ Ref: TOPIC }],
    TreatMissingData: "notBreaching",
    ComparisonOperator: "GreaterThanOrEqualToThreshold",
    ...properties,
  },
});

class PhoenixOperations {
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { "before:package:finalize": () => this.addOperations() };
  }

  addOperations() {
    const { service } = this.serverless;
    const provider = this.serverless.getProvider("aws");
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    const stepThreshold = Number(service.custom?.phoenixOperations?.stepErrorAlarmThreshold ?? 10);
    const runBySteps = functionsRunByStateMachines(service.stepFunctions?.stateMachines);

    for (const key of service.getAllFunctions()) {
      const functionId = provider.naming.getLambdaLogicalId(key);
      const name = service.getFunction(key).name;
      const dimensions = [{ Name: "FunctionName", Value: { Ref: functionId } }];
      const step = runBySteps.has(key);
      resources[`${functionId}ErrorsAlarm`] = alarm({
        AlarmDescription: step
          ? `${name} failed ${stepThreshold} times in 15 minutes (its state machine retries or catches each failure)`
          : `${name} failed: no state machine retries it, so whatever it was doing did not happen`,
        Namespace: "AWS/Lambda",
        MetricName: "Errors",
        Dimensions: dimensions,
        Statistic: "Sum",
        Period: step ? 900 : 300,
        EvaluationPeriods: 1,
        Threshold: step ? stepThreshold : 1,
      });
      resources[`${functionId}ThrottlesAlarm`] = alarm({
        AlarmDescription: `${name} was throttled (the account's Lambda concurrency is exhausted)`,
        Namespace: "AWS/Lambda",
        MetricName: "Throttles",
        Dimensions: dimensions,
        Statistic: "Sum",
        Period: 300,
        EvaluationPeriods: 1,
        Threshold: 1,
      });
    }

    const rules = Object.entries(resources).filter(([, resource]) => resource.Type === "AWS::Events::Rule");
    if (rules.length === 0) return;
    resources[QUEUE] = {
      Type: "AWS::SQS::Queue",
      Properties: {
        QueueName: `phoenix-dead-letters-${provider.getStage()}`,
        MessageRetentionPeriod: 1_209_600,
        SqsManagedSseEnabled: true,
      },
    };
    for (const [, rule] of rules) {
      for (const target of rule.Properties.Targets ?? []) {
        target.DeadLetterConfig = { Arn: { "Fn::GetAtt": [QUEUE, "Arn"] } };
        target.RetryPolicy ??= { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 };
      }
    }
    resources[`${QUEUE}Policy`] = {
      Type: "AWS::SQS::QueuePolicy",
      Properties: {
        Queues: [{ Ref: QUEUE }],
        PolicyDocument: {
          Version: "2012-10-17",
          Statement: [
            {
              Sid: "EventBridgeRulesOfThisStack",
              Effect: "Allow",
              Principal: { Service: "events.amazonaws.com" },
              Action: "sqs:SendMessage",
              Resource: { "Fn::GetAtt": [QUEUE, "Arn"] },
              Condition: { ArnEquals: { "aws:SourceArn": rules.map(([id]) => ({ "Fn::GetAtt": [id, "Arn"] })) } },
            },
          ],
        },
      },
    };
    resources[`${QUEUE}DepthAlarm`] = alarm({
      AlarmDescription:
        "An event EventBridge could not deliver to a Phoenix function is waiting in the dead-letter queue",
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [QUEUE, "QueueName"] } }],
      Statistic: "Maximum",
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
    });
    const outputs = service.provider.compiledCloudFormationTemplate.Outputs;
    outputs.DeadLetterQueueUrl = {
      Description: "Events EventBridge could not deliver to a Phoenix function (alarmed on)",
      Value: { Ref: QUEUE },
    };
  }
}

module.exports = PhoenixOperations;
