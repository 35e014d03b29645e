// CloudWatch alarms, read by the probes.
import { type Route, route } from "./route";

/** CloudWatch operations. */
export const cloudWatchRoutes: Route[] = [
  route("cloudwatch", "DescribeAlarms", "cloudwatch:describe", false, (world, input) => {
    const names: string[] | undefined = input.AlarmNames;
    const alarms = [...world.alarms.values()].filter((alarm) => !names || names.includes(alarm.alarmName));
    return {
      MetricAlarms: alarms.map((alarm) => ({ AlarmName: alarm.alarmName, StateValue: alarm.state })),
      CompositeAlarms: [],
    };
  }),
];
