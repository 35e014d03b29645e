// asl-validator ships no type declarations.
declare module "asl-validator" {
  interface ValidationOptions {
    checkArn?: boolean;
    checkPaths?: boolean;
  }
  interface ValidationResult {
    isValid: boolean;
    errors: unknown[];
    errorsText(separator?: string): string;
  }
  export default function aslValidator(definition: unknown, options?: ValidationOptions): ValidationResult;
}
