package api

import "net/http"

// OpenAPI30 returns the same document downgraded to OpenAPI 3.0.3, for
// generators that do not read 3.1 yet (oapi-codegen).
func OpenAPI30() ([]byte, error) {
	api := newAPI(http.NewServeMux(), Deps{})
	return api.OpenAPI().DowngradeYAML()
}
