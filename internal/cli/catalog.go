package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/partnerhub/partnerhub/client"
)

// maxCatalogInput bounds a catalog file (the API's own limits allow large
// catalogs; 16 MiB is far above any real one).
const maxCatalogInput = 16 << 20

func catalogCommand() *Command {
	return &Command{Name: "catalog", Summary: "export and import an environment's products and bundles (YAML or JSON)",
		Usage: `Usage: partnerhub catalog export|import ` + tenantEnvFlags + ` ...

The catalog file lists products by name, each with its bundles by SKU (names
and SKUs identify items across environments and servers; ids do not):

  products:
    - name: Credits
      fulfilmentMethod: plugin      # or manual
      countries: [KE, NG]
      description: ...              # optional
      imageUrl: https://...         # optional
      bundles:
        - sku: credits-100
          name: 100 Credits
          quantity: "100"
          digitalCurrency: {code: CRE, name: Credits}
          pay1stProductBundleId: 42 # optional: absent leaves it as it is;
                                    # exported only with --with-pay1st-ids
          prices:
            - {countryCode: NG, currencyCode: NGN, amount: "1500"}`,
		Sub: []*Command{
			{Name: "export", Summary: "write the catalog to a file or stdout, in a stable order", Run: catalogExport, Usage: `Usage: partnerhub catalog export ` + tenantEnvFlags + ` [--file PATH] [--format yaml|json]
                               [--with-pay1st-ids]

Writes the environment's products and bundles, sorted (products by name,
bundles by SKU, prices by country then currency), so that exporting an
unchanged catalog twice gives the same bytes. --format defaults to the
file's extension (.json, .yaml, .yml), else yaml (json with --output json;
--format yaml with --output json to stdout is refused: stdout would not be
JSON).

Pay1st productBundleIds are left out: each environment's Pay1st Console has
its own, and a file imported elsewhere would carry the wrong ones (absent,
import keeps the target's). --with-pay1st-ids includes them, for a backup
of the same environment.`},
			{Name: "import", Summary: "show the diff against a file, then apply it", Run: catalogImport, Usage: `Usage: partnerhub catalog import ` + tenantEnvFlags + ` --file PATH|- [--prune]
                               [--dry-run | --check | --yes]

Reads a catalog file (YAML or JSON; - for stdin), shows what it changes
(add/change/remove per product and bundle, with the fields; on stderr with
--output json) and applies it through the API; any answer but y applies
nothing (exit 1). Items on the server that the file lacks are kept unless
--prune is given (then they are removed; a bundle that payments bought
cannot be). Importing the same file again changes nothing.

  --dry-run  show the diff only
  --check    show the diff only; exit 1 when there is one (for CI)
  --yes      apply without asking (needed when stdin is not a terminal)

If applying stops half-way (a refused change, a lost connection), what was
applied stays: fix the cause and import again; only the rest is applied.`},
		}}
}

// fetchCatalog reads an environment's whole catalog as a file document,
// with the ids the apply step needs.
type liveCatalog struct {
	doc       catalogDoc
	productID map[string]int64 // by name
	bundleID  map[string]int64 // by SKU
	countries map[string][]string
}

func fetchCatalog(ctx context.Context, e *Env, tenant, env string) (*liveCatalog, error) {
	lc := &liveCatalog{productID: map[string]int64{}, bundleID: map[string]int64{}, countries: map[string][]string{}}
	op := "read the catalog of " + tenant + "/" + env
	// A catalog must be read whole (the diff would remove what is
	// missing): past maxListed, or on a repeated cursor, it fails.
	pg := newPager(op)
	products, _, err := follow(pg, nil, true, func(cursor *string) ([]client.Product, *string, error) {
		r, err := e.Client.ListProductsWithResponse(ctx, tenant, env, &client.ListProductsParams{Limit: ptr(pageSize), Cursor: cursor})
		if err := call(op, "", err, statusOf(r), bodyOf(r)); err != nil {
			return nil, nil, err
		}
		page, err := decoded(op, "", r, r.JSON200)
		if err != nil {
			return nil, nil, err
		}
		return page.Items, page.NextCursor, nil
	})
	if err != nil {
		return nil, err
	}
	if err := pg.complete(); err != nil {
		return nil, err
	}
	pg = newPager(op)
	bundles, _, err := follow(pg, nil, true, func(cursor *string) ([]client.Bundle, *string, error) {
		r, err := e.Client.ListBundlesWithResponse(ctx, tenant, env, &client.ListBundlesParams{Limit: ptr(pageSize), Cursor: cursor})
		if err := call(op, "", err, statusOf(r), bodyOf(r)); err != nil {
			return nil, nil, err
		}
		page, err := decoded(op, "", r, r.JSON200)
		if err != nil {
			return nil, nil, err
		}
		return page.Items, page.NextCursor, nil
	})
	if err != nil {
		return nil, err
	}
	if err := pg.complete(); err != nil {
		return nil, err
	}
	idx := map[int64]int{}
	for _, p := range products {
		if _, dup := lc.productID[p.Name]; dup {
			return nil, fmt.Errorf("%s: two products are named %q; rename one first (the file matches products by name)", op, p.Name)
		}
		lc.productID[p.Name] = p.Id
		lc.countries[p.Name] = p.Countries
		idx[p.Id] = len(lc.doc.Products)
		lc.doc.Products = append(lc.doc.Products, productDoc{Name: p.Name, Description: deref(p.Description), ImageURL: deref(p.ImageUrl),
			FulfilmentMethod: string(p.FulfilmentMethod), Countries: p.Countries})
	}
	for _, b := range bundles {
		i, ok := idx[b.ProductId]
		if !ok {
			continue // its product was created after the product list was read
		}
		lc.bundleID[b.Sku] = b.Id
		prices := make([]priceDoc, 0, len(b.Prices))
		for _, pr := range b.Prices {
			prices = append(prices, priceDoc{CountryCode: pr.CountryCode, CurrencyCode: pr.CurrencyCode, Amount: pr.Amount})
		}
		lc.doc.Products[i].Bundles = append(lc.doc.Products[i].Bundles, bundleDoc{SKU: b.Sku, Name: b.Name, Quantity: b.Quantity,
			DigitalCurrency: currencyDoc(b.DigitalCurrency), Pay1stProductBundleID: b.Pay1stProductBundleId, Prices: prices})
	}
	lc.doc = normalize(lc.doc)
	return lc, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// catalogFormat picks yaml or json from --format, the file's extension,
// then --output.
func catalogFormat(format, path string, jsonOut bool) (string, error) {
	switch format {
	case "yaml", "json":
		return format, nil
	case "":
	default:
		return "", usageErrorf("--format must be yaml or json")
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "json", nil
	case ".yaml", ".yml":
		return "yaml", nil
	}
	if jsonOut {
		return "json", nil
	}
	return "yaml", nil
}

func encodeCatalog(d catalogDoc, format string) ([]byte, error) {
	d = normalize(d)
	if format == "json" {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err := enc.Encode(d)
		return b.Bytes(), err
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	err := enc.Close()
	return b.Bytes(), err
}

// decodeCatalog reads YAML or JSON (JSON is YAML), refusing unknown fields
// so that a typo is not silently ignored.
func decodeCatalog(data []byte) (catalogDoc, error) {
	var d catalogDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&d); err != nil {
		return d, usageErrorf("catalog file: %v", err)
	}
	if err := validateDoc(d); err != nil {
		return d, err
	}
	return normalize(d), nil
}

func catalogExport(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("catalog export")
	te := addTenantEnv(fs, "")
	file := fs.String("file", "", "write here instead of stdout")
	format := fs.String("format", "", "yaml or json")
	withIDs := fs.Bool("with-pay1st-ids", false, "include Pay1st productBundleIds")
	_, err := parseArgs(fs, args, te.check)
	if err != nil {
		return err
	}
	f, err := catalogFormat(*format, *file, e.JSON)
	if err != nil {
		return err
	}
	toStdout := *file == "" || *file == "-"
	if toStdout && e.JSON && f != "json" {
		return usageErrorf("--format yaml to stdout with --output json: stdout would not be JSON (drop one, or write to --file)")
	}
	lc, err := fetchCatalog(ctx, e, *te.tenant, *te.env)
	if err != nil {
		return err
	}
	if !*withIDs {
		for i := range lc.doc.Products {
			for j := range lc.doc.Products[i].Bundles {
				lc.doc.Products[i].Bundles[j].Pay1stProductBundleID = nil
			}
		}
	}
	data, err := encodeCatalog(lc.doc, f)
	if err != nil {
		return fmt.Errorf("encode catalog: %w", err)
	}
	if toStdout {
		_, err = e.Out.Write(data)
		return err
	}
	if err := os.WriteFile(*file, data, 0o644); err != nil {
		return fmt.Errorf("write catalog: %w", err)
	}
	nb := 0
	for _, p := range lc.doc.Products {
		nb += len(p.Bundles)
	}
	fmt.Fprintf(e.Err, "wrote %d products and %d bundles to %s\n", len(lc.doc.Products), nb, *file)
	return nil
}

// applyFlags are the preview/apply choices shared by import and promote.
type applyFlags struct{ dryRun, check, yes *bool }

func addApplyFlags(fs interface {
	Bool(name string, value bool, usage string) *bool
}) applyFlags {
	return applyFlags{dryRun: fs.Bool("dry-run", false, "show the diff only"), check: fs.Bool("check", false, "show the diff only; exit 1 when there is one"),
		yes: fs.Bool("yes", false, "apply without asking")}
}

func (a applyFlags) validate() error {
	n := 0
	for _, b := range []bool{*a.dryRun, *a.check, *a.yes} {
		if b {
			n++
		}
	}
	if n > 1 {
		return usageErrorf("--dry-run, --check and --yes exclude each other")
	}
	return nil
}

// diffResult is the JSON shape of a diff (import, promote).
type diffResult struct {
	Changes []change `json:"changes"`
	DryRun  bool     `json:"dryRun"`
	Applied bool     `json:"applied"`
}

// preview shows a diff and says whether to go on applying: false for
// --dry-run, ErrFailed for --check with changes, else a confirmation
// (errDeclined when not given).
func preview(ctx context.Context, e *Env, a applyFlags, cs []change, what string) (bool, error) {
	if len(cs) == 0 {
		if e.JSON {
			return false, writeJSON(e.Out, diffResult{Changes: []change{}, DryRun: *a.dryRun || *a.check})
		}
		e.Printf("No changes: %s already matches.\n", what)
		return false, nil
	}
	if *a.dryRun || *a.check {
		if err := e.Render(diffResult{Changes: cs, DryRun: true}, changeHeaders, changeRows(cs)); err != nil {
			return false, err
		}
		if *a.check {
			return false, fmt.Errorf("%d change(s) to %s: %w", len(cs), what, ErrFailed)
		}
		return false, nil
	}
	// Shown before the question in both modes: on stderr with --output
	// json, where stdout is kept for the result.
	if err := writeTable(e.notes(), changeHeaders, changeRows(cs)); err != nil {
		return false, err
	}
	if err := e.confirm(ctx, *a.yes, fmt.Sprintf("Apply %d change(s) to %s?", len(cs), what)); err != nil {
		return false, err
	}
	return true, nil
}

func catalogImport(ctx context.Context, e *Env, args []string) error {
	fs := newFlags("catalog import")
	te := addTenantEnv(fs, "")
	file := fs.String("file", "", "catalog file; - for stdin")
	prune := fs.Bool("prune", false, "remove items the file lacks")
	af := addApplyFlags(fs)
	_, err := parseArgs(fs, args, te.check)
	if err != nil {
		return err
	}
	if err := af.validate(); err != nil {
		return err
	}
	if *file == "" {
		return usageErrorf("--file is required (- for stdin)")
	}
	data, err := readInput(ctx, e, *file, maxCatalogInput)
	if err != nil {
		return err
	}
	want, err := decodeCatalog(data)
	if err != nil {
		return err
	}
	lc, err := fetchCatalog(ctx, e, *te.tenant, *te.env)
	if err != nil {
		return err
	}
	what := "the catalog of " + *te.tenant + "/" + *te.env
	cs := diffCatalog(want, lc.doc, *prune)
	ok, err := preview(ctx, e, af, cs, what)
	if err != nil || !ok {
		return err
	}
	n, err := applyCatalog(ctx, e, *te.tenant, *te.env, want, lc, cs)
	if err != nil {
		return fmt.Errorf("%w\n  applied %d of %d change(s) before this; fix the cause and import again (only the rest is applied)", err, n, len(cs))
	}
	if e.JSON {
		return writeJSON(e.Out, diffResult{Changes: cs, Applied: true})
	}
	e.Printf("Applied %d change(s) to %s.\n", len(cs), what)
	return nil
}

// applyCatalog makes the server's catalog match want per the diff cs, in an
// order the API accepts: products first (countries widened to the union, so
// bundles can be priced in new ones), then bundles, then removals, then
// products narrowed to their final countries. It returns how many of cs
// were fully applied.
func applyCatalog(ctx context.Context, e *Env, tenant, env string, want catalogDoc, lc *liveCatalog, cs []change) (int, error) {
	wantP := map[string]productDoc{}
	wantB := map[string]bundleDoc{}
	bundleProduct := map[string]string{}
	for _, p := range want.Products {
		wantP[p.Name] = p
		for _, b := range p.Bundles {
			wantB[b.SKU], bundleProduct[b.SKU] = b, p.Name
		}
	}
	haveB := map[string]bundleDoc{}
	for _, p := range lc.doc.Products {
		for _, b := range p.Bundles {
			haveB[b.SKU] = b
		}
	}
	done := 0
	check := "partnerhub catalog import --dry-run ... (shows what is left)"
	var narrow []string
	// 1. products: add, change (countries widened first).
	for _, c := range cs {
		if c.Kind != "product" || c.Action == actRemove {
			continue
		}
		p := wantP[c.Key]
		body := productBody(p)
		if c.Action == actAdd {
			op := "add product " + c.Key
			r, err := e.Client.CreateProductWithResponse(ctx, tenant, env, body)
			if err := call(op, check, err, statusOf(r), bodyOf(r)); err != nil {
				return done, err
			}
			p, err := decoded(op, check, r, r.JSON201)
			if err != nil {
				return done, err
			}
			lc.productID[c.Key] = p.Id
			done++
			continue
		}
		union := unionSorted(lc.countries[c.Key], p.Countries)
		if !slices.Equal(union, p.Countries) {
			body.Countries = union
			narrow = append(narrow, c.Key)
		}
		r, err := e.Client.UpdateProductWithResponse(ctx, tenant, env, lc.productID[c.Key], body)
		if err := call("change product "+c.Key, check, err, statusOf(r), bodyOf(r)); err != nil {
			return done, err
		}
		if !slices.Contains(narrow, c.Key) {
			done++
		}
	}
	// 2. bundles: add, change.
	for _, c := range cs {
		if c.Kind != "bundle" || c.Action == actRemove {
			continue
		}
		b := wantB[c.Key]
		body := client.BundleBody{Sku: b.SKU, Name: b.Name, Quantity: b.Quantity, DigitalCurrency: client.DigitalCurrency(b.DigitalCurrency),
			ProductId: lc.productID[bundleProduct[c.Key]], Pay1stProductBundleId: b.Pay1stProductBundleID, Prices: make([]client.Price, 0, len(b.Prices))}
		for _, pr := range b.Prices {
			body.Prices = append(body.Prices, client.Price{CountryCode: pr.CountryCode, CurrencyCode: pr.CurrencyCode, Amount: pr.Amount})
		}
		if c.Action == actAdd {
			r, err := e.Client.CreateBundleWithResponse(ctx, tenant, env, body)
			if err := call("add bundle "+c.Key, check, err, statusOf(r), bodyOf(r)); err != nil {
				return done, err
			}
		} else {
			if body.Pay1stProductBundleId == nil {
				body.Pay1stProductBundleId = haveB[c.Key].Pay1stProductBundleID // absent in the file: keep
			}
			r, err := e.Client.UpdateBundleWithResponse(ctx, tenant, env, lc.bundleID[c.Key], body)
			if err := call("change bundle "+c.Key, check, err, statusOf(r), bodyOf(r)); err != nil {
				return done, err
			}
		}
		done++
	}
	// 3. removals (--prune): bundles, then products.
	for _, c := range cs {
		if c.Kind != "bundle" || c.Action != actRemove {
			continue
		}
		r, err := e.Client.DeleteBundleWithResponse(ctx, tenant, env, lc.bundleID[c.Key])
		if err := call("remove bundle "+c.Key, check, err, statusOf(r), bodyOf(r)); err != nil {
			return done, err
		}
		done++
	}
	// 4. products narrowed to their final countries, now that no bundle is
	// priced outside them.
	for _, name := range narrow {
		r, err := e.Client.UpdateProductWithResponse(ctx, tenant, env, lc.productID[name], productBody(wantP[name]))
		if err := call("change product "+name, check, err, statusOf(r), bodyOf(r)); err != nil {
			return done, err
		}
		done++
	}
	for _, c := range cs {
		if c.Kind != "product" || c.Action != actRemove {
			continue
		}
		r, err := e.Client.DeleteProductWithResponse(ctx, tenant, env, lc.productID[c.Key])
		if err := call("remove product "+c.Key, check, err, statusOf(r), bodyOf(r)); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

func productBody(p productDoc) client.ProductBody {
	body := client.ProductBody{Name: p.Name, FulfilmentMethod: client.ProductBodyFulfilmentMethod(p.FulfilmentMethod), Countries: slices.Clone(p.Countries)}
	if body.Countries == nil {
		body.Countries = []string{}
	}
	if p.Description != "" {
		body.Description = ptr(p.Description)
	}
	if p.ImageURL != "" {
		body.ImageUrl = ptr(p.ImageURL)
	}
	return body
}

func unionSorted(a, b []string) []string {
	u := slices.Concat(a, b)
	slices.Sort(u)
	return slices.Compact(u)
}
