import "../local/env";
import "aws-sdk-client-mock-vitest/extend";
