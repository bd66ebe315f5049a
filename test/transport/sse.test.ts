import { expect } from "chai";
import { GeneratorHttpError, parseSseBlock } from "../../offchain/transport/generator-client.js";

describe("generator stream: server-sent event blocks (offchain/transport/generator-client.ts)", () => {
  it("parses CRLF lines, comments and multi-line data; other event kinds and data-less blocks are skipped", () => {
    expect(parseSseBlock(': keep-alive\r\nevent: token\r\ndata: {"index":0,\r\ndata: "token":7}')).to.deep.equal({ event: "token", data: { index: 0, token: 7 } });
    expect(parseSseBlock(": keep-alive")).to.equal(undefined);
    expect(parseSseBlock('event: snapshot\ndata: {"x":1}')).to.equal(undefined);
  });
  it("a known event with malformed data is an error, not a silent skip", () => {
    expect(() => parseSseBlock("event: token\ndata: not json")).to.throw(GeneratorHttpError, /not JSON/);
    expect(() => parseSseBlock('event: token\ndata: {"index":-1,"token":7}')).to.throw(GeneratorHttpError, /malformed token/);
  });
});
