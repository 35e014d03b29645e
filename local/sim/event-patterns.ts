// EventBridge event patterns, as serverless.yml declares them: exact values, prefix, anything-but and exists.
// Enough of the pattern language for Phoenix's rules; an unknown operator is an error, not a silent miss.

type Rule = unknown;

function matchesOne(rule: Rule, value: unknown): boolean {
  if (rule === null || typeof rule !== "object") return value === rule;
  const [operator, operand] = Object.entries(rule)[0] ?? [];
  switch (operator) {
    case "prefix":
      return typeof value === "string" && value.startsWith(String(operand));
    case "suffix":
      return typeof value === "string" && value.endsWith(String(operand));
    case "anything-but":
      return Array.isArray(operand) ? !operand.includes(value) : value !== operand;
    case "exists":
      return (value !== undefined) === operand;
    case "numeric": {
      const conditions = operand as (string | number)[];
      if (typeof value !== "number") return false;
      for (let index = 0; index < conditions.length; index += 2) {
        const bound = Number(conditions[index + 1]);
        const holds = {
          "<": value < bound,
          "<=": value <= bound,
          "=": value === bound,
          ">=": value >= bound,
          ">": value > bound,
        }[String(conditions[index])];
        if (!holds) return false;
      }
      return true;
    }
    default:
      throw new Error(`event pattern operator ${operator} is not supported by the simulator`);
  }
}

function matchesValues(rules: Rule[], value: unknown): boolean {
  const values = Array.isArray(value) ? value : [value];
  return rules.some((rule) => {
    if (rule && typeof rule === "object" && "exists" in rule) return matchesOne(rule, value);
    return values.some((item) => matchesOne(rule, item));
  });
}

/** Whether an event (or part of one) matches an EventBridge pattern. */
export function matchesPattern(pattern: Record<string, unknown>, event: unknown): boolean {
  const target = (event ?? {}) as Record<string, unknown>;
  return Object.entries(pattern).every(([key, rule]) => {
    if (Array.isArray(rule)) return matchesValues(rule, target[key]);
    if (rule && typeof rule === "object")
      return typeof target[key] === "object" && matchesPattern(rule as Record<string, unknown>, target[key]);
    return target[key] === rule;
  });
}
