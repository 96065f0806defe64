// GraphiQL, signed in: every request it sends (introspection included) carries `Authorization: Bearer <key>`,
// so Docs and autocomplete load on the first try.
//
// The key comes from the link `make serve` prints (`/graphql#key=umk_...`: a fragment never leaves the browser,
// so no server or proxy log sees it), or from the form shown when no accepted key is stored. It is remembered
// in this browser's localStorage for this origin; the toolbar's "Sign out" button forgets it.
(function () {
  "use strict";

  var STORAGE = "usage-api:key";
  var endpoint = window.location.origin + window.location.pathname;
  var root = document.getElementById("graphiql");
  var reactRoot = null;
  var DEFAULT_QUERY = [
    "# Signed in with your API key.",
    "# Ctrl-Enter runs, Ctrl-Space completes.",
    "{",
    '  product(code: "CELL-PLAN") {',
    "    code",
    "    name",
    "    status",
    "    usageResources {",
    "      resource { code name }",
    "      grants { quantity unit { unitCode } }",
    "      rates { rate rateUnit { unitCode } }",
    "    }",
    "  }",
    "}",
    "",
  ].join("\n");

  function takeKeyFromLink() {
    var fragment = new URLSearchParams(window.location.hash.slice(1));
    var key = fragment.get("key");
    if (!key) return null;
    fragment.delete("key");
    var rest = fragment.toString();
    window.history.replaceState(null, "", window.location.pathname + window.location.search + (rest ? "#" + rest : ""));
    return key;
  }

  // "ok", "rejected" (HTTP 401) or "unreachable".
  function check(key) {
    return fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer " + key },
      body: JSON.stringify({ query: "{ __typename }" }),
    }).then(
      function (response) { return response.status === 401 ? "rejected" : "ok"; },
      function () { return "unreachable"; }
    );
  }

  function askForKey(problem) {
    if (reactRoot) {
      reactRoot.unmount();
      reactRoot = null;
    }
    root.className = "";
    root.innerHTML = "";
    var form = document.createElement("form");
    form.id = "sign-in";
    form.innerHTML =
      "<h1>Usage API</h1>" +
      "<p>Paste an API key of your tenant. Locally, <code>make serve</code> prints one, and a link that signs " +
      "you in directly. The key is kept in this browser only.</p>" +
      (problem ? '<p class="problem"></p>' : "") +
      '<label>API key <input name="key" autocomplete="off" spellcheck="false" required autofocus></label>' +
      '<button type="submit">Sign in</button>';
    if (problem) form.querySelector(".problem").textContent = problem;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      signIn(form.elements.key.value.trim());
    });
    root.appendChild(form);
  }

  function signIn(key) {
    check(key).then(function (verdict) {
      if (verdict === "ok") {
        window.localStorage.setItem(STORAGE, key);
        start(key);
      } else if (verdict === "rejected") {
        window.localStorage.removeItem(STORAGE);
        askForKey("That key was not accepted (unknown or revoked). A restarted `make serve` without a data " +
                  "directory has a new store and a new key: use the link it printed.");
      } else {
        askForKey("The API at " + endpoint + " did not answer. Is the server running?");
      }
    });
  }

  function signOut() {
    window.localStorage.removeItem(STORAGE);
    askForKey(null);
  }

  function start(key) {
    var fetcher = GraphiQL.createFetcher({ url: endpoint, headers: { Authorization: "Bearer " + key } });
    var explorer = GraphiQLPluginExplorer.explorerPlugin();
    var signOutButton = React.createElement(
      "button",
      { type: "button", className: "graphiql-un-styled graphiql-toolbar-button", title: "Sign out (forget the key)",
        "aria-label": "Sign out", onClick: signOut },
      "⏏"
    );
    root.className = "graphiql-container";
    root.innerHTML = "";
    reactRoot = ReactDOM.createRoot(root);
    reactRoot.render(
      React.createElement(GraphiQL, {
        fetcher: fetcher,
        defaultQuery: DEFAULT_QUERY,
        plugins: [explorer],
        toolbar: { additionalContent: signOutButton },
        defaultEditorToolsVisibility: true,
        isHeadersEditorEnabled: true,
        inputValueDeprecation: true,
      })
    );
  }

  var key = takeKeyFromLink() || window.localStorage.getItem(STORAGE);
  if (key) signIn(key);
  else askForKey(null);
})();
