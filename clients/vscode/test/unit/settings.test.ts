import { describe, expect, it } from "vitest";

import { DEFAULTS, parseTcpAddress, readSettings } from "../../src/core/settings";

const from = (values: Record<string, unknown>) => (key: string) => values[key];

describe("settings", () => {
  it("defaults: unix socket, inline completion off with a 300 ms debounce", () => {
    const { settings, problems } = readSettings(from({}));
    expect(problems).toEqual([]);
    expect(settings).toEqual(DEFAULTS);
    expect(settings.inline.enabled).toBe(false);
    expect(settings.tcpAddress).toBeNull();
  });

  it("reads TCP and a token for TCP setups", () => {
    const { settings, problems } = readSettings(from({ tcpAddress: "127.0.0.1:11435", token: "0123456789abcdef0123", "inlineCompletion.enabled": true, "inlineCompletion.debounceMs": 150 }));
    expect(problems).toEqual([]);
    expect(settings.tcpAddress).toEqual({ host: "127.0.0.1", port: 11435 });
    expect(settings.token).toBe("0123456789abcdef0123");
    expect(settings.inline).toMatchObject({ enabled: true, debounceMs: 150 });
  });

  it("names each bad value and the fix, and falls back to the default", () => {
    const { settings, problems } = readSettings(from({ tcpAddress: "localhost", token: "short", "inlineCompletion.debounceMs": -5, maxIterations: 99, plan: "yes" }));
    expect(settings.tcpAddress).toBeNull();
    expect(settings.token).toBe("");
    expect(settings.inline.debounceMs).toBe(300);
    expect(settings.maxIterations).toBe(4);
    expect(settings.plan).toBe(true);
    expect(problems.join("\n")).toMatch(/tcpAddress.*HOST:PORT/);
    expect(problems.join("\n")).toMatch(/edgecoder token/);
    expect(problems.join("\n")).toMatch(/debounceMs = -5 is out of range/);
    expect(problems.join("\n")).toMatch(/maxIterations = 99/);
    expect(problems.join("\n")).toMatch(/plan must be true or false/);
  });

  it("parses TCP addresses the daemon prints", () => {
    expect(parseTcpAddress("http://127.0.0.1:8080/")).toEqual({ host: "127.0.0.1", port: 8080 });
    expect(parseTcpAddress("[::1]:9")).toEqual({ host: "::1", port: 9 });
    expect(() => parseTcpAddress("127.0.0.1:0")).toThrow(/out of range/);
  });
});
