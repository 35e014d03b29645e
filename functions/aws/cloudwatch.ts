import { CloudWatchClient, DescribeAlarmsCommand } from "@aws-sdk/client-cloudwatch";
import { clientFor, sdkClientDefaults } from "./clients";
import { callAws } from "./errors";

const cloudWatch = () => clientFor("cloudWatch", () => new CloudWatchClient(sdkClientDefaults));

/** Current state (OK, ALARM, INSUFFICIENT_DATA) of each named alarm; absent alarms are left out. */
export async function describeAlarmStates(
  alarmNames: string[],
): Promise<{ alarmName: string; state?: string }[]> {
  if (alarmNames.length === 0) return [];
  const states: { alarmName: string; state?: string }[] = [];
  // DescribeAlarms takes at most 100 names per call.
  for (let start = 0; start < alarmNames.length; start += 100) {
    let nextToken: string | undefined;
    do {
      const response = await callAws("DescribeAlarms", () =>
        cloudWatch().send(
          new DescribeAlarmsCommand({
            AlarmNames: alarmNames.slice(start, start + 100),
            AlarmTypes: ["MetricAlarm", "CompositeAlarm"],
            NextToken: nextToken,
          }),
        ),
      );
      for (const alarm of [...(response.MetricAlarms ?? []), ...(response.CompositeAlarms ?? [])]) {
        if (alarm.AlarmName) states.push({ alarmName: alarm.AlarmName, state: alarm.StateValue });
      }
      nextToken = response.NextToken;
    } while (nextToken);
  }
  return states;
}
