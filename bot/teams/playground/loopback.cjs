// Loaded into the Microsoft 365 Agents Playground with NODE_OPTIONS=--require by TestPlaygroundApprovalStory.
// The Playground's server (its web page and its mock Bot Connector, neither of which asks for credentials)
// listens on every interface, and it has no option to change that. This binds every server it opens that names
// no host to 127.0.0.1, so that nothing of it can be reached from the network while the test runs.
"use strict";
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first !== null && typeof first === "object" && !Array.isArray(first)) {
    if (first.port !== undefined && first.host === undefined && first.path === undefined) {
      args[0] = { ...first, host: "127.0.0.1" };
    }
  } else if ((typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) &&
    (args.length === 1 || typeof args[1] === "function")) {
    args.splice(1, 0, "127.0.0.1");
  }
  return listen.apply(this, args);
};
