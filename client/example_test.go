package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/partnerhub/partnerhub/api"
	"github.com/partnerhub/partnerhub/client"
)

// A client for a partnerhub server, authenticated with an API key. Here the
// server is an in-process one without a database, so only the probes answer
// and the key is not a real one; against a deployment, pass its URL and your
// key (phk_...).
func Example() {
	srv := httptest.NewServer(api.New(api.Deps{}))
	defer srv.Close()

	key := "phk_example"
	bearer := func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+key)
		return nil
	}
	c, err := client.NewClientWithResponses(srv.URL, client.WithRequestEditorFn(bearer))
	if err != nil {
		log.Fatal(err)
	}

	health, err := c.GetHealthWithResponse(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("health:", health.StatusCode(), health.JSON200.Status)
	// Output: health: 200 ok
}

// Following the pages of a list: pass each page's nextCursor back until it is
// absent. Errors are the API's RFC 9457 problems, decoded per status.
func ExampleClientWithResponses_ListTenantsWithResponse() {
	ctx := context.Background()
	bearer := func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+os.Getenv("PARTNERHUB_KEY"))
		return nil
	}
	c, err := client.NewClientWithResponses(os.Getenv("PARTNERHUB_URL"), client.WithRequestEditorFn(bearer))
	if err != nil {
		log.Fatal(err)
	}
	params := &client.ListTenantsParams{}
	for {
		page, err := c.ListTenantsWithResponse(ctx, params)
		if err != nil {
			log.Fatal(err) // transport: the server was not reached
		}
		if page.JSON200 == nil {
			if p := page.ApplicationproblemJSON401; p != nil && p.Detail != nil {
				log.Fatalf("not authenticated: %s", *p.Detail)
			}
			log.Fatalf("list tenants: %s: %s", page.Status(), page.Body)
		}
		if items := page.JSON200.Items; items != nil { // the 3.0 schema allows null
			for _, t := range *items {
				fmt.Println(t.PartnerCode, t.Name, t.Status)
			}
		}
		if page.JSON200.NextCursor == nil {
			break
		}
		params.Cursor = page.JSON200.NextCursor
	}
}
