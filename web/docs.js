// The API reference at /docs: Swagger UI (vendored from npm's
// swagger-ui-dist, web/vendor/) drawing the daemon's own /v1/openapi.yaml.
// "Authorize" takes a bearer token; "Try it out" then calls this daemon.
window.ui = SwaggerUIBundle({
  url: "/v1/openapi.yaml",
  dom_id: "#ui",
  deepLinking: true,
  tryItOutEnabled: false,
  persistAuthorization: false,
  validatorUrl: null, // never call out to the network
});
