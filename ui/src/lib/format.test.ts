import { describe, expect, it } from "vitest";
import { age, ago, bytes, duration } from "./format";

describe("display helpers", () => {
  it("formats sizes, durations and ages", () => {
    expect([bytes(null), bytes(12), bytes(310_000), bytes(4_200_000), bytes(7.5e9)]).toEqual(["—", "12 B", "310 KB", "4.2 MB", "7.5 GB"]);
    expect([duration(null), duration(4.25), duration(42.5), duration(600), duration(3900)]).toEqual(["—", "4.3 s", "43 s", "10 min", "1 h 5 min"]);
    expect([age(null), age(0), age(0.5), age(5), age(72)]).toEqual(["—", "just now", "30 min", "5 h", "3 d"]);
    const now = Date.parse("2026-03-04T12:00:00Z");
    expect([ago("2026-03-04T12:00:00Z", now), ago("2026-03-04T07:00:00Z", now), ago("garbage", now)]).toEqual([
      "just now",
      "5 h ago",
      "garbage",
    ]);
    // A host clock ahead of ours is not "in the future".
    expect(ago("2026-03-04T12:05:00Z", now)).toBe("just now");
  });
});
