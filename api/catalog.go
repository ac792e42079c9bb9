package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/partnerhub/partnerhub/tenant"
)

// CatalogHandler serves a tenant environment's catalog: products at
// /v1/tenants/{partnerCode}/environments/{env}/products and their bundles
// (SKUs) at .../bundles. Updates are PUT, a full replace: a bundle's body
// carries its whole price list, and replacing it whole is the one meaning
// every generated client agrees on.
type CatalogHandler struct {
	tenants *tenant.Service
	logger  *slog.Logger
}

// CatalogPath names one tenant environment's catalog.
type CatalogPath struct {
	PartnerCode string `path:"partnerCode" maxLength:"64" example:"acme-games" doc:"The tenant's Pay1st partnerCode."`
	Env         string `path:"env" example:"staging" doc:"staging or production, each with its own catalog; any other name is not found."`
}

func (p CatalogPath) base() string {
	return "/v1/tenants/" + p.PartnerCode + "/environments/" + p.Env
}

// ProductBody is a product's writable fields.
type ProductBody struct {
	Name             string   `json:"name" minLength:"1" maxLength:"200" example:"Gold coins" doc:"Shown to players in the Carry1st Shop."`
	Description      string   `json:"description,omitempty" maxLength:"2000" example:"The in-game currency of Acme Quest." doc:"Optional longer text about the product."`
	ImageURL         string   `json:"imageUrl,omitempty" maxLength:"2048" example:"https://cdn.acme-games.com/gold.png" doc:"Absolute https URL of the product's image (http is accepted in staging). Omit until there is one."`
	Countries        []string `json:"countries" nullable:"false" minItems:"1" maxItems:"250" example:"[\"ZA\",\"NG\",\"KE\"]" doc:"ISO 3166-1 alpha-2 codes, upper case, of the countries the product is enabled in; each once. Bundles may be priced only in these."`
	FulfilmentMethod string   `json:"fulfilmentMethod" enum:"plugin,manual" example:"plugin" doc:"plugin: players are credited through the environment's active fulfilment plugin. manual: the studio fulfils by itself."`
}

func (b ProductBody) params() tenant.ProductParams {
	return tenant.ProductParams{Name: b.Name, Description: b.Description, ImageURL: b.ImageURL,
		Countries: b.Countries, FulfilmentMethod: b.FulfilmentMethod}
}

// Product is a product as the API shows it.
type Product struct {
	ID          int64  `json:"id" example:"12" doc:"The product's id, unique across environments."`
	Environment string `json:"environment" enum:"staging,production" example:"staging" doc:"The environment whose catalog holds it."`
	ProductBody
	CreatedAt time.Time `json:"createdAt" doc:"When it was created."`
	UpdatedAt time.Time `json:"updatedAt" doc:"When it last changed."`
}

func productOut(p tenant.Product) Product {
	countries := p.Countries
	if countries == nil {
		countries = []string{}
	}
	return Product{ID: p.ID, Environment: p.Environment, ProductBody: ProductBody{
		Name: p.Name, Description: p.Description, ImageURL: p.ImageURL, Countries: countries, FulfilmentMethod: p.FulfilmentMethod,
	}, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

// DigitalCurrency is what a bundle credits, as Pay1st's Summary Webhook names it.
type DigitalCurrency struct {
	Name string `json:"name" minLength:"1" maxLength:"100" example:"Credits" doc:"The currency's display name."`
	Code string `json:"code" pattern:"^[A-Za-z0-9._-]{1,32}$" example:"CRE" doc:"The currency's code in the game."`
}

// Price is a bundle's price in one country and currency.
type Price struct {
	CountryCode  string `json:"countryCode" pattern:"^[A-Z]{2}$" example:"ZA" doc:"ISO 3166-1 alpha-2, one of the product's countries."`
	CurrencyCode string `json:"currencyCode" pattern:"^[A-Z]{3}$" example:"ZAR" doc:"ISO 4217, an active currency code (not XXX or XTS)."`
	Amount       string `json:"amount" pattern:"^(0|[1-9][0-9]{0,14})(\\.[0-9]{1,8})?$" example:"1000.00" doc:"An exact decimal as a JSON string, never a number: greater than 0, at most 15 digits before the point and 8 after, no sign or exponent. Returned exactly as given."`
}

// BundleBody is a bundle's writable fields, its whole price list included.
type BundleBody struct {
	ProductID             int64           `json:"productId" minimum:"1" example:"12" doc:"The product, in the same environment."`
	SKU                   string          `json:"sku" pattern:"^[A-Za-z0-9._-]{1,64}$" example:"gold-100" doc:"The studio's SKU, Pay1st's productBundleExternalId: unique in the environment."`
	Name                  string          `json:"name" minLength:"1" maxLength:"200" example:"100 Gold coins" doc:"Shown to players in the Carry1st Shop."`
	Quantity              string          `json:"quantity" pattern:"^(0|[1-9][0-9]{0,14})(\\.[0-9]{1,8})?$" example:"100" doc:"How much digital currency the bundle gives (Pay1st's tokensPurchased): an exact decimal as a JSON string, greater than 0."`
	DigitalCurrency       DigitalCurrency `json:"digitalCurrency"`
	Pay1stProductBundleID int64           `json:"pay1stProductBundleId,omitempty" minimum:"1" example:"4711" doc:"Pay1st's productBundleId for this bundle, once it exists in the Pay1st Console; unique in the environment. The Summary Webhook names the bundle by it."`
	Prices                []Price         `json:"prices" nullable:"false" minItems:"1" maxItems:"500" doc:"The bundle's prices, at most one per country and currency. Returned in country, then currency order."`
}

// params converts the body, reading decimals exactly.
func (b BundleBody) params() (tenant.BundleParams, error) {
	q, err := tenant.ParseDecimal("quantity", b.Quantity)
	if err != nil {
		return tenant.BundleParams{}, err
	}
	p := tenant.BundleParams{ProductID: b.ProductID, SKU: b.SKU, Name: b.Name, Quantity: q,
		DigitalCurrencyName: b.DigitalCurrency.Name, DigitalCurrencyCode: b.DigitalCurrency.Code,
		Pay1stBundleID: b.Pay1stProductBundleID, Prices: make([]tenant.Price, len(b.Prices))}
	for i, pr := range b.Prices {
		amount, err := tenant.ParseDecimal("prices["+strconv.Itoa(i)+"].amount", pr.Amount)
		if err != nil {
			return tenant.BundleParams{}, err
		}
		p.Prices[i] = tenant.Price{CountryCode: pr.CountryCode, CurrencyCode: pr.CurrencyCode, Amount: amount}
	}
	return p, nil
}

// Bundle is a bundle as the API shows it.
type Bundle struct {
	ID          int64  `json:"id" example:"31" doc:"The bundle's id, unique across environments."`
	Environment string `json:"environment" enum:"staging,production" example:"staging" doc:"The environment whose catalog holds it."`
	BundleBody
	CreatedAt time.Time `json:"createdAt" doc:"When it was created."`
	UpdatedAt time.Time `json:"updatedAt" doc:"When it last changed."`
}

func bundleOut(b tenant.Bundle) Bundle {
	prices := make([]Price, len(b.Prices))
	for i, p := range b.Prices {
		prices[i] = Price{CountryCode: p.CountryCode, CurrencyCode: p.CurrencyCode, Amount: tenant.DecimalString(p.Amount)}
	}
	return Bundle{ID: b.ID, Environment: b.Environment, BundleBody: BundleBody{
		ProductID: b.ProductID, SKU: b.SKU, Name: b.Name, Quantity: tenant.DecimalString(b.Quantity),
		DigitalCurrency:       DigitalCurrency{Name: b.DigitalCurrencyName, Code: b.DigitalCurrencyCode},
		Pay1stProductBundleID: b.Pay1stBundleID, Prices: prices,
	}, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
}

// CreateProductInput is create-product's.
type CreateProductInput struct {
	CatalogPath
	Body ProductBody
}

// ProductIDInput names one product.
type ProductIDInput struct {
	CatalogPath
	ProductID int64 `path:"productId" minimum:"1" example:"12" doc:"The product's id, as returned when it was created."`
}

// UpdateProductInput is update-product's.
type UpdateProductInput struct {
	ProductIDInput
	Body ProductBody
}

// ListProductsInput pages list-products.
type ListProductsInput struct {
	CatalogPath
	PageParams
}

// ProductOutput is one product.
type ProductOutput struct {
	Body Product
}

// CreatedProductOutput is create-product's answer.
type CreatedProductOutput struct {
	Location string `header:"Location" doc:"The new product's URL."`
	Body     Product
}

// ProductList is a page of products.
type ProductList struct {
	Items      []Product `json:"items" nullable:"false" doc:"Products in creation (id) order."`
	NextCursor string    `json:"nextCursor,omitempty" example:"MTI" doc:"Pass as cursor for the next page; absent on the last page."`
}

// ProductListOutput is list-products' answer.
type ProductListOutput struct {
	Link string `header:"Link" doc:"The next page, as <url>; rel=\"next\"; absent on the last page."`
	Body ProductList
}

// CreateBundleInput is create-bundle's.
type CreateBundleInput struct {
	CatalogPath
	Body BundleBody
}

// BundleIDInput names one bundle.
type BundleIDInput struct {
	CatalogPath
	BundleID int64 `path:"bundleId" minimum:"1" example:"31" doc:"The bundle's id, as returned when it was created."`
}

// UpdateBundleInput is update-bundle's.
type UpdateBundleInput struct {
	BundleIDInput
	Body BundleBody
}

// ListBundlesInput pages and filters list-bundles.
type ListBundlesInput struct {
	CatalogPath
	PageParams
	ProductID int64  `query:"productId" minimum:"1" example:"12" doc:"Only this product's bundles."`
	SKU       string `query:"sku" maxLength:"64" example:"gold-100" doc:"Only the bundle with this SKU."`
}

// BundleOutput is one bundle.
type BundleOutput struct {
	Body Bundle
}

// CreatedBundleOutput is create-bundle's answer.
type CreatedBundleOutput struct {
	Location string `header:"Location" doc:"The new bundle's URL."`
	Body     Bundle
}

// BundleList is a page of bundles.
type BundleList struct {
	Items      []Bundle `json:"items" nullable:"false" doc:"Bundles in creation (id) order, each with its prices."`
	NextCursor string   `json:"nextCursor,omitempty" example:"MzE" doc:"Pass as cursor for the next page; absent on the last page."`
}

// BundleListOutput is list-bundles' answer.
type BundleListOutput struct {
	Link string `header:"Link" doc:"The next page, as <url>; rel=\"next\"; absent on the last page."`
	Body BundleList
}

const (
	catalogReadDoc  = " Operators and the tenant's keys; another tenant's catalog is not found (404)."
	catalogWriteDoc = " Operators, or the tenant's admin keys (viewer keys get 403). Audited."
)

// Register adds the catalog operations to api.
func (h *CatalogHandler) Register(api huma.API) {
	const products = "/v1/tenants/{partnerCode}/environments/{env}/products"
	const bundles = "/v1/tenants/{partnerCode}/environments/{env}/bundles"
	ptags, btags := []string{"Products"}, []string{"Bundles"}
	write := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity}

	huma.Register(api, huma.Operation{
		OperationID: "create-product", Method: http.MethodPost, Path: products, Tags: ptags,
		Summary:     "Create a product",
		Description: "Adds a product to the environment's catalog: what it is, the countries it is enabled in, how it is fulfilled." + catalogWriteDoc,
		Security:    bearer, DefaultStatus: http.StatusCreated, Errors: write,
	}, h.createProduct)
	huma.Register(api, huma.Operation{
		OperationID: "list-products", Method: http.MethodGet, Path: products, Tags: ptags,
		Summary:     "List products",
		Description: "The environment's products in creation order, a page at a time." + catalogReadDoc,
		Security:    bearer, Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.listProducts)
	huma.Register(api, huma.Operation{
		OperationID: "get-product", Method: http.MethodGet, Path: products + "/{productId}", Tags: ptags,
		Summary:     "Get a product",
		Description: "One product of the environment's catalog." + catalogReadDoc,
		Security:    bearer, Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.getProduct)
	huma.Register(api, huma.Operation{
		OperationID: "update-product", Method: http.MethodPut, Path: products + "/{productId}", Tags: ptags,
		Summary: "Replace a product",
		Description: "Replaces every field of the product (omitted optional fields become empty). Dropping a country " +
			"that one of its bundles still has a price in is refused (409): change those bundles first." + catalogWriteDoc,
		Security: bearer, Errors: write,
	}, h.updateProduct)
	huma.Register(api, huma.Operation{
		OperationID: "delete-product", Method: http.MethodDelete, Path: products + "/{productId}", Tags: ptags,
		Summary:     "Delete a product",
		Description: "Deletes a product without bundles; one that still has bundles is refused (409), naming them." + catalogWriteDoc,
		Security:    bearer, DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, h.deleteProduct)

	huma.Register(api, huma.Operation{
		OperationID: "create-bundle", Method: http.MethodPost, Path: bundles, Tags: btags,
		Summary: "Create a bundle",
		Description: "Adds a bundle (SKU) to a product, with its prices per country and currency. The SKU must be new in the " +
			"environment (409 otherwise); every price's country must be one of the product's (422)." + catalogWriteDoc,
		Security: bearer, DefaultStatus: http.StatusCreated, Errors: write,
	}, h.createBundle)
	huma.Register(api, huma.Operation{
		OperationID: "list-bundles", Method: http.MethodGet, Path: bundles, Tags: btags,
		Summary:     "List bundles",
		Description: "The environment's bundles with their prices in creation order, a page at a time; filter by product or SKU." + catalogReadDoc,
		Security:    bearer, Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.listBundles)
	huma.Register(api, huma.Operation{
		OperationID: "get-bundle", Method: http.MethodGet, Path: bundles + "/{bundleId}", Tags: btags,
		Summary:     "Get a bundle",
		Description: "One bundle with its prices." + catalogReadDoc,
		Security:    bearer, Errors: []int{http.StatusUnauthorized, http.StatusNotFound, http.StatusUnprocessableEntity},
	}, h.getBundle)
	huma.Register(api, huma.Operation{
		OperationID: "update-bundle", Method: http.MethodPut, Path: bundles + "/{bundleId}", Tags: btags,
		Summary: "Replace a bundle",
		Description: "Replaces every field of the bundle and its whole price list; it may move to another product of the " +
			"environment." + catalogWriteDoc,
		Security: bearer, Errors: write,
	}, h.updateBundle)
	huma.Register(api, huma.Operation{
		OperationID: "delete-bundle", Method: http.MethodDelete, Path: bundles + "/{bundleId}", Tags: btags,
		Summary: "Delete a bundle",
		Description: "Deletes a bundle and its prices. A bundle that payments bought is kept: deleting it is refused (409), " +
			"naming those payments." + catalogWriteDoc,
		Security: bearer, DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}, h.deleteBundle)
}

// scope resolves the path's tenant for a read, or for a write.
func (h *CatalogHandler) scope(ctx context.Context, p CatalogPath, write bool) (tenant.Tenant, error) {
	if write {
		return writableTenant(ctx, h.tenants, p.PartnerCode)
	}
	return visibleTenant(ctx, h.tenants, p.PartnerCode)
}

func (h *CatalogHandler) createProduct(ctx context.Context, in *CreateProductInput) (*CreatedProductOutput, error) {
	t, err := h.scope(ctx, in.CatalogPath, true)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	p, err := h.tenants.CreateProduct(ctx, t.ID, in.Env, in.Body.params())
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &CreatedProductOutput{Location: in.base() + "/products/" + strconv.FormatInt(p.ID, 10), Body: productOut(p)}, nil
}

func (h *CatalogHandler) listProducts(ctx context.Context, in *ListProductsInput) (*ProductListOutput, error) {
	t, err := h.scope(ctx, in.CatalogPath, false)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	page, err := h.tenants.ListProducts(ctx, t.ID, in.Env, tenant.ProductFilter{Limit: in.Limit, Cursor: in.Cursor})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &ProductListOutput{Body: ProductList{Items: make([]Product, 0, len(page.Products)), NextCursor: page.NextCursor}}
	for _, p := range page.Products {
		out.Body.Items = append(out.Body.Items, productOut(p))
	}
	out.Link = nextLink(in.base()+"/products", nil, tenant.PageLimit(in.Limit), page.NextCursor)
	return out, nil
}

func (h *CatalogHandler) getProduct(ctx context.Context, in *ProductIDInput) (*ProductOutput, error) {
	t, err := h.scope(ctx, in.CatalogPath, false)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	p, err := h.tenants.GetProduct(ctx, t.ID, in.Env, in.ProductID)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &ProductOutput{Body: productOut(p)}, nil
}

func (h *CatalogHandler) updateProduct(ctx context.Context, in *UpdateProductInput) (*ProductOutput, error) {
	t, err := h.scope(ctx, in.CatalogPath, true)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	p, err := h.tenants.UpdateProduct(ctx, t.ID, in.Env, in.ProductID, in.Body.params())
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &ProductOutput{Body: productOut(p)}, nil
}

func (h *CatalogHandler) deleteProduct(ctx context.Context, in *ProductIDInput) (*struct{}, error) {
	t, err := h.scope(ctx, in.CatalogPath, true)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if err := h.tenants.DeleteProduct(ctx, t.ID, in.Env, in.ProductID); err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return nil, nil
}

func (h *CatalogHandler) createBundle(ctx context.Context, in *CreateBundleInput) (*CreatedBundleOutput, error) {
	t, err := h.scope(ctx, in.CatalogPath, true)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	params, err := in.Body.params()
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	b, err := h.tenants.CreateBundle(ctx, t.ID, in.Env, params)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &CreatedBundleOutput{Location: in.base() + "/bundles/" + strconv.FormatInt(b.ID, 10), Body: bundleOut(b)}, nil
}

func (h *CatalogHandler) listBundles(ctx context.Context, in *ListBundlesInput) (*BundleListOutput, error) {
	t, err := h.scope(ctx, in.CatalogPath, false)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	page, err := h.tenants.ListBundles(ctx, t.ID, in.Env, tenant.BundleFilter{
		ProductID: in.ProductID, SKU: in.SKU, Limit: in.Limit, Cursor: in.Cursor,
	})
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	out := &BundleListOutput{Body: BundleList{Items: make([]Bundle, 0, len(page.Bundles)), NextCursor: page.NextCursor}}
	for _, b := range page.Bundles {
		out.Body.Items = append(out.Body.Items, bundleOut(b))
	}
	q := url.Values{"sku": {in.SKU}}
	if in.ProductID > 0 {
		q.Set("productId", strconv.FormatInt(in.ProductID, 10))
	}
	out.Link = nextLink(in.base()+"/bundles", q, tenant.PageLimit(in.Limit), page.NextCursor)
	return out, nil
}

func (h *CatalogHandler) getBundle(ctx context.Context, in *BundleIDInput) (*BundleOutput, error) {
	t, err := h.scope(ctx, in.CatalogPath, false)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	b, err := h.tenants.GetBundle(ctx, t.ID, in.Env, in.BundleID)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &BundleOutput{Body: bundleOut(b)}, nil
}

func (h *CatalogHandler) updateBundle(ctx context.Context, in *UpdateBundleInput) (*BundleOutput, error) {
	t, err := h.scope(ctx, in.CatalogPath, true)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	params, err := in.Body.params()
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	b, err := h.tenants.UpdateBundle(ctx, t.ID, in.Env, in.BundleID, params)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return &BundleOutput{Body: bundleOut(b)}, nil
}

func (h *CatalogHandler) deleteBundle(ctx context.Context, in *BundleIDInput) (*struct{}, error) {
	t, err := h.scope(ctx, in.CatalogPath, true)
	if err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	if err := h.tenants.DeleteBundle(ctx, t.ID, in.Env, in.BundleID); err != nil {
		return nil, problem(ctx, h.logger, err)
	}
	return nil, nil
}
