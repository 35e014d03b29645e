// Every simulated AWS operation, one file per service.
import { autoScalingRoutes } from "./autoscaling";
import { cloudWatchRoutes } from "./cloudwatch";
import { snapshotRoutes } from "./ebs";
import { ec2Routes } from "./ec2";
import { elbv2Routes } from "./elbv2";
import { eventRoutes } from "./events";
import { iamRoutes } from "./iam";
import { imageRoutes } from "./images";
import { kmsRoutes } from "./kms";
import { networkRoutes } from "./network";
import type { Route } from "./route";

export type { Route } from "./route";

/** Every simulated operation. */
export const ROUTES: Route[] = [
  ...autoScalingRoutes,
  ...ec2Routes,
  ...networkRoutes,
  ...snapshotRoutes,
  ...elbv2Routes,
  ...cloudWatchRoutes,
  ...eventRoutes,
  ...imageRoutes,
  ...iamRoutes,
  ...kmsRoutes,
];
