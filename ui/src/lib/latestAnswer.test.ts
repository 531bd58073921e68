import { describe, expect, it } from "vitest";
import { latestAnswer } from "./latestAnswer";

/** A request the test answers by hand, in any order. */
type Pending = { question: string; answer: (a: string) => void; refuse: (e: unknown) => void };

function harness(enabled = () => true) {
  const asked: Pending[] = [];
  const shown: string[] = [];
  const failures: unknown[] = [];
  const busy: boolean[] = [];
  let pick = "a";
  const loader = latestAnswer({
    enabled,
    fetch: () => {
      const question = pick;
      return new Promise<string>((answer, refuse) => asked.push({ question, answer, refuse }));
    },
    apply: (a) => shown.push(a),
    fail: (e) => failures.push(e),
    busy: (b) => busy.push(b),
  });
  return { loader, asked, shown, failures, busy, setPick: (p: string) => (pick = p) };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("latest-answer loader", () => {
  it("drops a slow answer to an older pick and asks once more for the newest", async () => {
    const h = harness();
    void h.loader.repick();
    h.setPick("b");
    void h.loader.repick();
    h.setPick("c");
    void h.loader.repick();
    expect(h.asked.map((p) => p.question), "one request at a time, however many picks").toEqual(["a"]);
    h.asked[0]!.answer("answer to a");
    await tick();
    expect(h.shown, "the answer to an older pick never reaches the page").toEqual([]);
    expect(h.asked.map((p) => p.question), "the loader asks again, for the newest pick only").toEqual(["a", "c"]);
    h.asked[1]!.answer("answer to c");
    await tick();
    expect(h.shown).toEqual(["answer to c"]);
  });

  it("shows the answer when nothing was picked meanwhile, and skips a timer load while one runs", async () => {
    const h = harness();
    void h.loader.repick();
    void h.loader.load();
    expect(h.asked, "a slow backend gets no pile of overlapping requests").toHaveLength(1);
    h.asked[0]!.answer("first");
    await tick();
    expect(h.shown).toEqual(["first"]);
    expect(h.asked, "a plain reload that was skipped is not retried").toHaveLength(1);
    expect(h.busy, "busy brackets each request").toEqual([true, false]);
  });

  it("reports a failure only for the newest pick", async () => {
    const h = harness();
    void h.loader.repick();
    h.setPick("b");
    void h.loader.repick();
    h.asked[0]!.refuse(new Error("old pick failed"));
    await tick();
    expect(h.failures, "a stale failure does not replace what the newest pick shows").toEqual([]);
    h.asked[1]!.refuse(new Error("new pick failed"));
    await tick();
    expect(h.failures.map((e) => (e as Error).message)).toEqual(["new pick failed"]);
  });

  it("asks nothing until it is enabled", async () => {
    let ready = false;
    const h = harness(() => ready);
    await h.loader.repick();
    expect(h.asked, "no environment picked yet: no request").toHaveLength(0);
    ready = true;
    void h.loader.repick();
    expect(h.asked).toHaveLength(1);
  });
});
