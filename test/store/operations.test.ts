// `update` on the document (src/store/operations.ts): it changes a secret's description, expiry or rotation period and
// nothing else: the value, `created`, `updated` (the rotation clock) and the history stay as they were.

import { describe, expect, it } from "vitest";
import { ExitCode, NotFoundError, UsageError } from "../../src/errors.js";
import { emptyDocument, parseDocument, serializeDocument, type StoreDocument } from "../../src/store/document.js";
import { status } from "../../src/store/expiry.js";
import {
  checkMetadataChange,
  describeMetadataChange,
  putSecret,
  secretHistory,
  updateSecret,
  type MetadataChange,
} from "../../src/store/operations.js";

const F = "/s/store.age";

/** A document whose K has a value replaced once (so a history), a description, an expiry and a rotation period. */
function withK(): StoreDocument {
  const doc = emptyDocument();
  putSecret(doc, "K", "first", { description: "the key", expires: "2027-03-31", rotateEvery: 90 }, F);
  putSecret(doc, "K", "second", { replace: true }, F);
  // Dates in the past, so that a rotation clock that moved would show.
  doc.secrets.K!.created = "2025-01-01T00:00:00.000Z";
  doc.secrets.K!.updated = "2025-06-01T00:00:00.000Z";
  return doc;
}

/** Returns everything of `doc` but K's description, expiry and rotation period, as JSON. */
function untouched(doc: StoreDocument): string {
  const { description: _d, expires: _e, rotateEvery: _r, ...rest } = doc.secrets.K!;
  return JSON.stringify({ ...doc, secrets: { ...doc.secrets, K: rest } });
}

function refused<E extends Error>(kind: new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(kind);
    return err as E;
  }
  throw new Error(`expected a ${kind.name}`);
}

describe("updateSecret", () => {
  it.for<[string, MetadataChange, Record<string, unknown>]>([
    ["sets an expiry", { expires: "2028-01-31" }, { description: "the key", expires: "2028-01-31", rotateEvery: 90 }],
    ["clears the expiry", { expires: null }, { description: "the key", rotateEvery: 90 }],
    ["sets a period", { rotateEvery: 30 }, { description: "the key", expires: "2027-03-31", rotateEvery: 30 }],
    ["clears the period", { rotateEvery: null }, { description: "the key", expires: "2027-03-31" }],
    [
      "sets a description",
      { description: "dashboard, read-only" },
      { description: "dashboard, read-only", expires: "2027-03-31", rotateEvery: 90 },
    ],
    ["clears the description with null", { description: null }, { expires: "2027-03-31", rotateEvery: 90 }],
    ['clears the description with ""', { description: "" }, { expires: "2027-03-31", rotateEvery: 90 }],
    ["clears all three at once", { description: null, expires: null, rotateEvery: null }, {}],
    [
      "normalizes a time to UTC",
      { expires: "2027-03-31T12:00+02:00" },
      { description: "the key", expires: "2027-03-31T10:00:00.000Z", rotateEvery: 90 },
    ],
  ])("%s, and leaves the value, its dates and its history as they were", ([, change, meta]) => {
    const doc = withK();
    const before = untouched(doc);
    const versions = secretHistory(doc, "K", F);
    updateSecret(doc, "K", change, F);
    const { value: _v, created: _c, updated: _u, ...got } = doc.secrets.K!;
    expect(got).toEqual(meta);
    expect(doc.secrets.K).toMatchObject({
      value: "second",
      created: "2025-01-01T00:00:00.000Z",
      updated: "2025-06-01T00:00:00.000Z",
    });
    expect(untouched(doc)).toBe(before);
    expect(secretHistory(doc, "K", F)).toEqual(versions);
    // What it writes, a later read accepts as it is.
    expect(parseDocument(serializeDocument(doc), F).secrets.K).toEqual(doc.secrets.K);
  });

  it("does not restart the rotation clock: a secret due stays due after its period is set again", () => {
    const doc = withK();
    const now = new Date("2026-01-01T00:00:00.000Z");
    expect(status(doc.secrets.K!, now)).toBe("due");
    updateSecret(doc, "K", { rotateEvery: 90 }, F);
    expect(status(doc.secrets.K!, now)).toBe("due");
    updateSecret(doc, "K", { rotateEvery: 365 }, F);
    expect(status(doc.secrets.K!, now)).toBe("ok");
  });

  it("touches only the secret named", () => {
    const doc = withK();
    putSecret(doc, "OTHER", "v", { expires: "2027-01-01" }, F);
    const other = JSON.stringify(doc.secrets.OTHER);
    updateSecret(doc, "K", { expires: null }, F);
    expect(JSON.stringify(doc.secrets.OTHER)).toBe(other);
  });

  it("refuses a missing name with NotFoundError (exit 3) naming it and the file, changing nothing", () => {
    const doc = withK();
    const before = JSON.stringify(doc);
    const err = refused(NotFoundError, () => updateSecret(doc, "NOPE", { expires: "2028-01-01" }, F));
    expect(err.exitCode).toBe(ExitCode.notFound);
    expect(err.message).toBe(`no secret named NOPE in ${F}`);
    expect(JSON.stringify(doc)).toBe(before);
  });

  it.for<[string, string, MetadataChange]>([
    ["nothing to change", "nothing to change for K", {}],
    ["an invalid name", "invalid secret name", { expires: null }],
    ["a bad date", 'invalid expiry date "2027-02-30"', { expires: "2027-02-30" }],
    ["never as a date (the CLI's word, null on the wire)", 'invalid expiry date "never"', { expires: "never" }],
    ["a period of 0 days", "a rotation period is a whole number of days", { rotateEvery: 0 }],
    ["a period of 1.5 days", "a rotation period is a whole number of days", { rotateEvery: 1.5 }],
    ["a period over 100 years", "a rotation period is a whole number of days", { rotateEvery: 36_501 }],
    ["a description with an escape", "a description is one line", { description: "x\u001b[2Jy" }],
    ["a description with a bidi override", "a description is one line", { description: "x\u202ey" }],
    ["a description over 500 characters", "a description is one line", { description: "x".repeat(501) }],
  ])("refuses %s with UsageError (exit 2), changing nothing", ([what, message, change]) => {
    const doc = withK();
    const before = JSON.stringify(doc);
    const name = what === "an invalid name" ? "1K" : "K";
    const err = refused(UsageError, () => updateSecret(doc, name, change, F));
    expect(err.exitCode).toBe(ExitCode.usage);
    expect(err.message).toContain(message);
    expect(err.hint).toBeDefined();
    expect(JSON.stringify(doc)).toBe(before);
  });

  it("refuses a change that names nothing before it looks the secret up", () => {
    refused(UsageError, () => updateSecret(emptyDocument(), "K", {}, F));
  });
});

describe("checkMetadataChange and describeMetadataChange", () => {
  it("keep only what is given, and say it without the description's text", () => {
    const change = checkMetadataChange("K", { description: "secret-looking text", expires: "2027-03-31" });
    expect(change).toEqual({ description: "secret-looking text", expires: "2027-03-31" });
    expect(describeMetadataChange(change)).toBe("description set, expires 2027-03-31");
    expect(describeMetadataChange(checkMetadataChange("K", { description: "", expires: null, rotateEvery: 7 }))).toBe(
      "description cleared, no expiry, rotation every 7 days",
    );
    expect(describeMetadataChange({ rotateEvery: null })).toBe("no rotation period");
  });
});
