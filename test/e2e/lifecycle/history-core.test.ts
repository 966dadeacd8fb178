// History in process (src/store/history.ts through operations.ts): random sequences of replacements, rollbacks and
// limit changes keep the rules the CLI documents, checked against a simple model of every value a secret had.

import { describe, expect, it } from "vitest";
import { emptyDocument, listSecrets, parseDocument, serializeDocument } from "../../../src/store/document.js";
import { setHistoryKeep } from "../../../src/store/history.js";
import { getSecret, putSecret, removeSecret, rollbackSecret, secretHistory } from "../../../src/store/operations.js";

const F = "/s/store.age";

describe("history rules", () => {
  it("hold over 300 random sequences of replace, rollback and --keep (a model keeps every value)", () => {
    let seed = 7;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let run = 0; run < 300; run++) {
      const doc = emptyDocument();
      let keep = 5;
      /** Every version's value, by version number: the model. */
      const model = new Map<number, string>([[1, "v1"]]);
      let current = 1;
      putSecret(doc, "K", "v1", {}, F);
      for (let step = 0; step < 25; step++) {
        const kept = secretHistory(doc, "K", F)
          .versions.slice(1)
          .map((v) => v.version);
        const choice = next(10);
        if (choice < 5) {
          const value = `v${current + 1}-${next(1000)}`;
          putSecret(doc, "K", value, { replace: true }, F);
          model.set(++current, value);
        } else if (choice < 9 && kept.length > 0) {
          const to = next(2) === 0 ? undefined : kept[next(kept.length)]!;
          const done = rollbackSecret(doc, "K", to, F);
          expect(done.restored).toBe(to ?? kept[0]);
          expect(done.version).toBe(current + 1);
          model.set(++current, model.get(done.restored)!);
        } else {
          keep = next(4);
          setHistoryKeep(doc, keep);
        }
        // The current value is the model's; earlier ones are the newest `keep` versions before it, each right.
        const secret = doc.secrets.K!;
        const record = doc.history?.K;
        expect(secret.value).toBe(model.get(current));
        expect(record?.version ?? 1).toBe(current);
        const earlier = (record?.earlier ?? []).map((p) => p.version);
        expect(earlier.length).toBeLessThanOrEqual(keep);
        expect(earlier).toEqual([...earlier].sort((a, b) => b - a));
        expect(earlier.every((v) => v < current)).toBe(true);
        for (const p of record?.earlier ?? []) expect(p.value).toBe(model.get(p.version));
        // The document stays one a later read accepts, and ls shows no history.
        const again = parseDocument(serializeDocument(doc), F);
        expect(again.secrets.K).toEqual(secret);
        expect(again.history?.K).toEqual(record);
        expect(Object.keys(listSecrets(doc)[0]!).sort()).toEqual(["created", "name", "updated"]);
      }
    }
  });

  it("a listing never holds a value, and rm takes the history with the secret", () => {
    const doc = emptyDocument();
    for (const v of ["first-secret", "second-secret", "third-secret"]) putSecret(doc, "K", v, { replace: true }, F);
    expect(JSON.stringify(secretHistory(doc, "K", F))).not.toMatch(/secret"/);
    removeSecret(doc, "K", F);
    expect(JSON.stringify(doc)).not.toContain('secret"');
    expect(doc.history).toBeUndefined();
  });

  it("a parsed store holds only its own entries, with no prototype, and checks each, `__proto__` included", () => {
    const at = "2026-01-01T00:00:00.000Z";
    const entry = (value: string) => ({ value, created: at, updated: at });
    // Written as JSON text: an object literal's `__proto__` would set its prototype, not make an entry.
    const text = (secrets: string, history?: string) => {
      const members = ['"format":"secretfile-store"', '"version":1', `"secrets":{${secrets}}`];
      if (history !== undefined) members.push(`"history":{${history}}`);
      return new TextEncoder().encode(`{${members.join(",")}}`);
    };
    const doc = parseDocument(
      text(
        `"__proto__":${JSON.stringify(entry("p"))},"constructor":${JSON.stringify(entry("c"))}`,
        `"__proto__":{"version":2}`,
      ),
      F,
    );
    expect(Object.getPrototypeOf(doc.secrets)).toBeNull();
    expect(Object.getPrototypeOf(doc.history)).toBeNull();
    expect(Object.keys(doc.secrets)).toEqual(["__proto__", "constructor"]);
    expect([getSecret(doc, "__proto__", F).value, getSecret(doc, "constructor", F).value]).toEqual(["p", "c"]);
    expect(() => getSecret(doc, "toString", F)).toThrow(/^no secret named /);
    expect(secretHistory(doc, "__proto__", F).versions[0]!.version).toBe(2);
    expect(() => parseDocument(text(`"__proto__":{"value":1}`), F)).toThrow(/the entry for __proto__ is malformed/);
    expect(() => parseDocument(text(`"K":${JSON.stringify(entry("k"))}`, `"__proto__":{"version":1}`), F)).toThrow(
      /history for "__proto__", which is not a secret in it/,
    );
  });

  it.for(["__proto__", "constructor", "hasOwnProperty"])(
    "a secret named %s is a secret like any other, history included",
    (name) => {
      // Store.update works on a structuredClone of the parsed document: a plain object, with Object.prototype.
      let doc = structuredClone(parseDocument(serializeDocument(emptyDocument()), F));
      expect(() => getSecret(doc, name, F)).toThrow(/^no secret named /);
      putSecret(doc, name, "one", {}, F);
      doc = structuredClone(parseDocument(serializeDocument(doc), F));
      putSecret(doc, name, "two", { replace: true }, F);
      doc = structuredClone(parseDocument(serializeDocument(doc), F));
      expect(Object.getPrototypeOf(doc.secrets)).toBe(Object.prototype);
      expect(getSecret(doc, name, F).value).toBe("two");
      expect(secretHistory(doc, name, F).versions.map((v) => v.version)).toEqual([2, 1]);
      expect(rollbackSecret(doc, name, undefined, F)).toEqual({ restored: 1, version: 3 });
      expect(getSecret(doc, name, F).value).toBe("one");
      expect(listSecrets(doc).map((s) => s.name)).toEqual([name]);
      removeSecret(doc, name, F);
      expect(JSON.parse(JSON.stringify(doc))).toEqual({ format: "secretfile-store", version: 1, secrets: {} });
    },
  );
});
