import "../local/env";
import "aws-sdk-client-mock-vitest/extend";

// A safety net: any AWS client a test forgot to mock or inject fails at once on a closed loopback port
// instead of looking for credentials (instance metadata) or reaching AWS.
process.env.AWS_ENDPOINT_URL = "http://127.0.0.1:9";
process.env.AWS_EC2_METADATA_DISABLED = "true";
process.env.AWS_REGION = "us-east-1";
process.env.AWS_ACCESS_KEY_ID = "TEST-ONLY";
process.env.AWS_SECRET_ACCESS_KEY = "TEST-ONLY";
process.env.AWS_MAX_ATTEMPTS = "1";
delete process.env.AWS_PROFILE;
