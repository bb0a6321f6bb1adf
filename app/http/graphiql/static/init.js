// This project's own: starts GraphiQL from the JSON configuration the page carries.
// It is a file, not an inline script, so the page's Content-Security-Policy can allow
// scripts from this origin only.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("graphiql-config").textContent);
  var fetcher = GraphiQL.createFetcher({ url: config.endpoint });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: config.query,
      headers: config.headers,
      defaultHeaders: config.headers,
      isHeadersEditorEnabled: true,
      // A token typed into the Headers tab stays in this tab, never in localStorage.
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: "headers",
    }),
  );
})();
