// The entries of the state folder that are the agent's own: setup run again on a host must not refuse them.

import { expect, it } from "vitest";
import { stateEntry } from "../../src/setup/folders.js";

it("counts pending/ (changes waiting for approval, docs/approvals.md) as the agent's own, and a stranger's entry not", () => {
  expect(["store.age", "identity.txt", "pending", ".store.age.tmp-0123456789abcdef"].map(stateEntry)).toEqual([
    true,
    true,
    true,
    true,
  ]);
  expect(["notes.txt", "pendingx"].map(stateEntry)).toEqual([false, false]);
});
