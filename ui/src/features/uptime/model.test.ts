import { describe, expect, it } from "vitest";
import { formatUptime } from "./model";

describe("uptime model", () => {
  it("formats percentages with two decimals and no checks as such", () => {
    expect(formatUptime(99.999)).toBe("100.00 %");
    expect(formatUptime(99.94)).toBe("99.94 %");
    expect(formatUptime(null)).toBe("no checks");
  });
});
