// This project's own: starts GraphiQL from the JSON configuration the page carries.
// It is a file, not an inline script, so the page's Content-Security-Policy can allow
// scripts from this origin only.
//
// Every request carries the Headers tab, introspection included. GraphiQL 4 introspects
// as it mounts, before its header editor exists, and would send no headers (a 401); so
// the fetcher is built with the tab's headers as its defaults, and the headers GraphiQL
// passes with a request, when it has them, override them.
//
// Without a usable token nothing is sent: no introspection (`schema: null`), and Run is
// answered here. Such a request could only be refused with 401, and each 401 spends this
// address's failed-login budget. A note above GraphiQL says what to paste. A token that
// is missing, not a bearer token (the placeholder), or expired beyond doubt by its `exp`
// claim is not usable; any other token is the gateway's to judge.
//
// A new token gets a new fetcher, which makes GraphiQL introspect again: the schema,
// docs and autocompletion follow the token. The dashboard document follows it too: the
// page carries one version per set of parts a token may read
// (app/http/graphiql/examples.py), chosen from the token's `scope` and `memberships`
// claims, read but not verified (the gateway decides what runs). The editor is changed
// only while it holds one of those versions, never a document someone wrote.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var examples = config.examples;
  var note = document.getElementById("graphiql-note");
  // Pasting is one edit; typing a header is many: act once the tab is still.
  var SETTLE_MS = 400;
  // RFC 6750's b64token: the placeholder "<paste your access token here>" is not one.
  var BEARER = /^Bearer +([A-Za-z0-9\-._~+\/]+=*)$/;
  // The browser's clock may be off, and the gateway allows some leeway: only a token
  // expired this long ago is held back; a nearly expired one is the gateway's to judge.
  var EXPIRY_SLACK_SECONDS = 300;

  function headersOf(text) {
    var parsed;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return null;
    }
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : null;
  }

  function bearerToken(headers) {
    var names = Object.keys(headers);
    for (var i = 0; i < names.length; i += 1) {
      var value = headers[names[i]];
      if (names[i].toLowerCase() === "authorization" && typeof value === "string") {
        var match = BEARER.exec(value.trim());
        return match ? match[1] : null;
      }
    }
    return null;
  }

  function claimsOf(token) {
    // A JWT's payload: base64url-encoded JSON. Anything else: no claims to go by.
    var segments = token.split(".");
    if (segments.length !== 3) return {};
    try {
      var binary = atob(segments[1].replace(/-/g, "+").replace(/_/g, "/"));
      var bytes = Uint8Array.from(binary, function (c) {
        return c.charCodeAt(0);
      });
      var claims = JSON.parse(new TextDecoder().decode(bytes));
      return claims && typeof claims === "object" && !Array.isArray(claims) ? claims : {};
    } catch (error) {
      return {};
    }
  }

  // What the Headers tab allows: {token, headers, claims} or {problem, ...}.
  function assess(text) {
    var headers = headersOf(text);
    if (headers === null) return { problem: "headers" };
    var token = bearerToken(headers);
    if (token === null) return { problem: "token" };
    var claims = claimsOf(token);
    if (typeof claims.exp === "number" && claims.exp + EXPIRY_SLACK_SECONDS < Date.now() / 1000) {
      return { problem: "expired", expiredAt: new Date(claims.exp * 1000) };
    }
    return { token: token, headers: headers, claims: claims };
  }

  function readableParts(claims) {
    // No `scope` claim: a first-party token, limited by its memberships only.
    var scopes = typeof claims.scope === "string" ? claims.scope.split(" ") : null;
    var roles = (Array.isArray(claims.memberships) ? claims.memberships : []).map(function (m) {
      return m && m.role;
    });
    return examples.parts
      .filter(function (part) {
        var scoped = scopes === null || scopes.indexOf(part.scope) >= 0;
        return (
          scoped &&
          roles.every(function (role) {
            return part.roles.indexOf(role) >= 0;
          })
        );
      })
      .map(function (part) {
        return part.name;
      });
  }

  function documentFor(situation) {
    var parts = situation.token
      ? readableParts(situation.claims)
      : examples.parts.map(function (part) {
          return part.name;
        });
    return examples.documents[parts.sort().join(" ")];
  }

  function isExample(text) {
    return Object.keys(examples.documents).some(function (key) {
      return examples.documents[key] === text;
    });
  }

  function queryEditor() {
    // CodeMirror 5 hangs its instance on its wrapper element; GraphiQL 4 itself sets an
    // editor's value through that instance's setValue, as this does.
    var wrapper = document.querySelector(".graphiql-query-editor .CodeMirror");
    return wrapper && wrapper.CodeMirror ? wrapper.CodeMirror : null;
  }

  function offerDocument(text) {
    var editor = queryEditor();
    if (editor === null) return false;
    var current = editor.getValue();
    if (current !== text && isExample(current)) editor.setValue(text);
    return true;
  }

  function whenEditorReady(text, triesLeft) {
    // The editor is created after the first render; the tab restored from storage may
    // hold the version for another token.
    if (offerDocument(text) || triesLeft === 0) return;
    window.setTimeout(function () {
      whenEditorReady(text, triesLeft - 1);
    }, 50);
  }

  function show(situation) {
    var text = "";
    var scopes = situation.claims && situation.claims.scope;
    if (situation.problem === "headers") {
      text = "The Headers tab is not a JSON object; GraphiQL sends nothing until it is.";
    } else if (situation.problem === "token") {
      text =
        'No access token in the Headers tab: paste yours there as {"Authorization": ' +
        '"Bearer <token>"}. Until then GraphiQL sends nothing, so it has no schema, ' +
        "docs or autocompletion yet.";
    } else if (situation.problem === "expired") {
      text =
        "The token in the Headers tab expired at " +
        situation.expiredAt.toISOString() +
        "; paste a new one. GraphiQL sends nothing with an expired token.";
    } else if (typeof scopes === "string") {
      text =
        "Partner token with scopes: " +
        (scopes.trim() || "(none)") +
        ". The schema, docs and dashboard below show what these scopes can read.";
    }
    note.textContent = text;
    note.hidden = text === "";
    note.className = situation.token ? "graphiql-note" : "graphiql-note graphiql-note-warning";
  }

  function notSent() {
    return Promise.resolve({
      errors: [
        {
          message:
            "Not sent: the Headers tab has no usable access token (see the note above). " +
            "The gateway would refuse it with 401, which counts against this address's " +
            "failed-login budget.",
        },
      ],
    });
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  var first = assess(config.headers);
  var appliedToken;

  function render(situation) {
    root.render(
      React.createElement(GraphiQL, {
        fetcher: situation.token
          ? GraphiQL.createFetcher({ url: config.endpoint, headers: situation.headers })
          : notSent,
        // undefined: introspect with the fetcher; null: no schema, nothing sent.
        schema: situation.token ? undefined : null,
        defaultQuery: documentFor(first),
        headers: config.headers,
        defaultHeaders: config.headers,
        isHeadersEditorEnabled: true,
        // A token typed into the Headers tab stays in this tab, never in localStorage.
        shouldPersistHeaders: false,
        defaultEditorToolsVisibility: "headers",
        onEditHeaders: onEditHeaders,
      }),
    );
  }

  function apply(situation) {
    show(situation);
    var token = situation.token || null;
    if (token === appliedToken) return;
    appliedToken = token;
    render(situation);
    whenEditorReady(documentFor(situation), 100);
  }

  var settling;
  function onEditHeaders(text) {
    window.clearTimeout(settling);
    settling = window.setTimeout(function () {
      apply(assess(text));
    }, SETTLE_MS);
  }

  apply(first);
})();
