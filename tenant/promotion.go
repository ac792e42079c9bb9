package tenant

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Promotion actions.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Change is one difference promotion finds between staging and production.
type Change struct {
	Kind   string   // "product", "bundle" or "setting"
	Action string   // ActionCreate, ActionUpdate or ActionDelete
	Key    string   // the product's name, the bundle's SKU or the setting's API name
	Fields []string // for updates: the API fields that differ
}

// Promotion is the outcome of promoting staging to production.
type Promotion struct {
	DryRun  bool
	Applied bool // false for a dry run and when nothing differed
	Changes []Change
}

// Promote makes production's catalog and settings equal to staging's:
// products matched by name, bundles by SKU; the four callback URLs, the IP
// allow-list and the active plugin. Never copied: credentials, the auth mode
// (it goes with them: token mode means a token), and a bundle's Pay1st
// productBundleId (each environment's Console has its own).
// With dryRun it only returns the changes. Applying twice changes nothing
// the second time. The whole promotion is one transaction: if any change is
// refused (a production bundle that payments bought would have to go, an
// http image URL that production does not allow), nothing is applied.
func (s *Service) Promote(ctx context.Context, t Tenant, dryRun bool) (Promotion, error) {
	var out Promotion
	// Repeatable read: staging is read in several statements and must be
	// one consistent snapshot.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return out, fmt.Errorf("begin promotion: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if out, err = s.PromoteTx(ctx, tx, t, dryRun); err != nil {
		return Promotion{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Promotion{}, fmt.Errorf("commit promotion: %w", err)
	}
	// Settings may have changed: drop what this node cached, after commit.
	s.forget(t.PartnerCode)
	return out, nil
}

// PromoteTx is Promote inside the caller's transaction, which should be
// REPEATABLE READ or stricter so staging is read as one snapshot.
func (s *Service) PromoteTx(ctx context.Context, tx pgx.Tx, t Tenant, dryRun bool) (Promotion, error) {
	// One promotion of a tenant at a time.
	if err := s.store.lock(ctx, tx, "promotion", t.ID); err != nil {
		return Promotion{}, err
	}
	staging, err := s.snapshot(ctx, tx, t.ID, Staging)
	if err != nil {
		return Promotion{}, err
	}
	production, err := s.snapshot(ctx, tx, t.ID, Production)
	if err != nil {
		return Promotion{}, err
	}
	plan, err := planPromotion(staging, production)
	if err != nil {
		return Promotion{}, err
	}
	if err := s.planSettings(ctx, tx, t, plan); err != nil {
		return Promotion{}, err
	}
	out := Promotion{DryRun: dryRun, Changes: plan.changes}
	if dryRun || len(plan.changes) == 0 {
		return out, nil
	}
	if err := s.apply(ctx, tx, t.ID, plan); err != nil {
		return Promotion{}, err
	}
	if err := s.applySettings(ctx, tx, t, plan); err != nil {
		return Promotion{}, err
	}
	if err := s.changedTx(ctx, tx, t.PartnerCode); err != nil {
		return Promotion{}, err
	}
	if err := s.AuditTx(ctx, tx, "promotion.apply", t.ID, "environment:production", map[string]any{
		"changes": len(plan.changes),
	}); err != nil {
		return Promotion{}, err
	}
	out.Applied = true
	return out, nil
}

// catalog is one environment's products and bundles, read in a transaction.
type catalog struct {
	products []Product
	bundles  []Bundle
}

func (s *Service) snapshot(ctx context.Context, tx pgx.Tx, tenantID int64, env string) (catalog, error) {
	var c catalog
	var err error
	// Catalogs are bounded by what a studio sells; read them whole.
	if c.products, err = s.store.listProducts(ctx, tx, tenantID, env, 0, math.MaxInt32); err != nil {
		return c, fmt.Errorf("read %s products: %w", env, err)
	}
	if c.bundles, err = s.store.listBundles(ctx, tx, tenantID, env, BundleFilter{}, 0, math.MaxInt32); err != nil {
		return c, fmt.Errorf("read %s bundles: %w", env, err)
	}
	ptrs := make([]*Bundle, len(c.bundles))
	for i := range c.bundles {
		ptrs[i] = &c.bundles[i]
	}
	if err := s.store.loadPrices(ctx, tx, tenantID, env, ptrs); err != nil {
		return c, err
	}
	return c, nil
}

// plan is what promotion will do, computed before anything is written.
type plan struct {
	changes []Change
	// Work, in the order it must be applied.
	createProducts []Product          // staging products missing in production
	updateProducts map[int64]Product  // production id → staging values
	createBundles  []Bundle           // staging bundles missing in production
	updateBundles  map[int64]Bundle   // production id → staging values
	deleteBundles  []int64            // production bundles not in staging
	deleteProducts []int64            // production products not in staging
	productByName  map[string]Product // staging products
	stagingName    map[int64]string   // staging product id → name
	prodCountries  map[int64][]string // production product id → its countries
	prodProduct    map[string]int64   // production product id by name (after creates)
	keepPay1stID   map[int64]int64    // production bundle id → its own Pay1st id
	settings       EnvPatch           // production settings to change
	hasSettings    bool
	activePlugin   int64 // staging's active plugin, to activate in production; 0 for none
}

func planPromotion(staging, production catalog) (*plan, error) {
	p := &plan{
		updateProducts: map[int64]Product{}, updateBundles: map[int64]Bundle{},
		productByName: map[string]Product{}, prodProduct: map[string]int64{}, keepPay1stID: map[int64]int64{},
		prodCountries: map[int64][]string{},
	}
	stagingName := map[int64]string{}
	p.stagingName = stagingName
	for _, sp := range staging.products {
		if _, dup := p.productByName[sp.Name]; dup {
			return nil, fmt.Errorf("%w: staging has two products named %q; rename one before promoting", ErrConflict, sp.Name)
		}
		p.productByName[sp.Name] = sp
		stagingName[sp.ID] = sp.Name
	}
	prodByName := map[string]Product{}
	prodName := map[int64]string{}
	for _, pp := range production.products {
		if _, dup := prodByName[pp.Name]; dup {
			return nil, fmt.Errorf("%w: production has two products named %q; rename or delete one before promoting", ErrConflict, pp.Name)
		}
		prodByName[pp.Name] = pp
		prodName[pp.ID] = pp.Name
		p.prodCountries[pp.ID] = pp.Countries
		p.prodProduct[pp.Name] = pp.ID
	}
	for _, sp := range staging.products {
		pp, ok := prodByName[sp.Name]
		switch {
		case !ok:
			p.createProducts = append(p.createProducts, sp)
			p.changes = append(p.changes, Change{Kind: "product", Action: ActionCreate, Key: sp.Name})
		default:
			if fields := productDiff(sp, pp); len(fields) > 0 {
				p.updateProducts[pp.ID] = sp
				p.changes = append(p.changes, Change{Kind: "product", Action: ActionUpdate, Key: sp.Name, Fields: fields})
			}
		}
	}
	prodBySKU := map[string]Bundle{}
	for _, pb := range production.bundles {
		prodBySKU[pb.SKU] = pb
	}
	stagingSKU := map[string]bool{}
	for _, sb := range staging.bundles {
		stagingSKU[sb.SKU] = true
		pb, ok := prodBySKU[sb.SKU]
		if !ok {
			p.createBundles = append(p.createBundles, sb)
			p.changes = append(p.changes, Change{Kind: "bundle", Action: ActionCreate, Key: sb.SKU})
			continue
		}
		if fields := bundleDiff(sb, stagingName[sb.ProductID], pb, prodName[pb.ProductID]); len(fields) > 0 {
			p.updateBundles[pb.ID] = sb
			p.keepPay1stID[pb.ID] = pb.Pay1stBundleID
			p.changes = append(p.changes, Change{Kind: "bundle", Action: ActionUpdate, Key: sb.SKU, Fields: fields})
		}
	}
	for _, pb := range production.bundles {
		if !stagingSKU[pb.SKU] {
			p.deleteBundles = append(p.deleteBundles, pb.ID)
			p.changes = append(p.changes, Change{Kind: "bundle", Action: ActionDelete, Key: pb.SKU})
		}
	}
	for _, pp := range production.products {
		if _, ok := p.productByName[pp.Name]; !ok {
			p.deleteProducts = append(p.deleteProducts, pp.ID)
			p.changes = append(p.changes, Change{Kind: "product", Action: ActionDelete, Key: pp.Name})
		}
	}
	return p, nil
}

func productDiff(a, b Product) []string {
	var f []string
	if a.Description != b.Description {
		f = append(f, "description")
	}
	if a.ImageURL != b.ImageURL {
		f = append(f, "imageUrl")
	}
	if !slices.Equal(sorted(a.Countries), sorted(b.Countries)) {
		f = append(f, "countries")
	}
	if a.FulfilmentMethod != b.FulfilmentMethod {
		f = append(f, "fulfilmentMethod")
	}
	return f
}

func bundleDiff(a Bundle, aProduct string, b Bundle, bProduct string) []string {
	var f []string
	if aProduct != bProduct {
		f = append(f, "productId")
	}
	if a.Name != b.Name {
		f = append(f, "name")
	}
	if DecimalString(a.Quantity) != DecimalString(b.Quantity) {
		f = append(f, "quantity")
	}
	if a.DigitalCurrencyName != b.DigitalCurrencyName {
		f = append(f, "digitalCurrency.name")
	}
	if a.DigitalCurrencyCode != b.DigitalCurrencyCode {
		f = append(f, "digitalCurrency.code")
	}
	if !samePrices(a.Prices, b.Prices) {
		f = append(f, "prices")
	}
	return f
}

// samePrices compares price lists, which the store returns in country then
// currency order, keeping the scale the studio gave ("1000.00").
func samePrices(a, b []Price) bool {
	return slices.EqualFunc(a, b, func(x, y Price) bool {
		return x.CountryCode == y.CountryCode && x.CurrencyCode == y.CurrencyCode && DecimalString(x.Amount) == DecimalString(y.Amount)
	})
}

// union is a's items followed by b's that a lacks.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// apply writes the plan through the catalog's own Tx methods, so every
// change is validated for production and audited like a hand-made one.
func (s *Service) apply(ctx context.Context, tx pgx.Tx, tenantID int64, p *plan) error {
	params := func(sp Product) ProductParams {
		return ProductParams{Name: sp.Name, Description: sp.Description, ImageURL: sp.ImageURL,
			Countries: sp.Countries, FulfilmentMethod: sp.FulfilmentMethod}
	}
	// Products first (bundles point at them), in staging's order.
	for _, sp := range p.createProducts {
		created, err := s.CreateProductTx(ctx, tx, tenantID, Production, params(sp))
		if err != nil {
			return promotionErr("product", sp.Name, err)
		}
		p.prodProduct[sp.Name] = created.ID
	}
	// A product losing a country would be refused while production bundles
	// still have prices there: widen to both lists now, narrow after the
	// bundles are in their final shape.
	narrow := map[int64]Product{}
	for _, id := range sortedKeys(p.updateProducts) {
		sp := p.updateProducts[id]
		wide := params(sp)
		wide.Countries = union(sp.Countries, p.prodCountries[id])
		if len(wide.Countries) != len(sp.Countries) {
			narrow[id] = sp
		}
		if _, err := s.UpdateProductTx(ctx, tx, tenantID, Production, id, wide); err != nil {
			return promotionErr("product", sp.Name, err)
		}
	}
	// Bundles leave before bundles arrive, so a SKU freed in production is
	// free again; then products that no longer exist in staging go.
	for _, id := range p.deleteBundles {
		if err := s.DeleteBundleTx(ctx, tx, tenantID, Production, id); err != nil {
			return promotionErr("bundle", fmt.Sprint(id), err)
		}
	}
	bundle := func(sb Bundle, pay1stID int64) BundleParams {
		return BundleParams{ProductID: p.prodProduct[p.stagingName[sb.ProductID]], SKU: sb.SKU, Name: sb.Name, Quantity: sb.Quantity,
			DigitalCurrencyName: sb.DigitalCurrencyName, DigitalCurrencyCode: sb.DigitalCurrencyCode,
			Pay1stBundleID: pay1stID, Prices: sb.Prices}
	}
	for _, sb := range p.createBundles {
		if _, err := s.CreateBundleTx(ctx, tx, tenantID, Production, bundle(sb, 0)); err != nil {
			return promotionErr("bundle", sb.SKU, err)
		}
	}
	for _, id := range sortedKeys(p.updateBundles) {
		sb := p.updateBundles[id]
		if _, err := s.UpdateBundleTx(ctx, tx, tenantID, Production, id, bundle(sb, p.keepPay1stID[id])); err != nil {
			return promotionErr("bundle", sb.SKU, err)
		}
	}
	for _, id := range sortedKeys(narrow) {
		if _, err := s.UpdateProductTx(ctx, tx, tenantID, Production, id, params(narrow[id])); err != nil {
			return promotionErr("product", narrow[id].Name, err)
		}
	}
	for _, id := range p.deleteProducts {
		if err := s.DeleteProductTx(ctx, tx, tenantID, Production, id); err != nil {
			return promotionErr("product", fmt.Sprint(id), err)
		}
	}
	return nil
}

// promotionErr says which item stopped a promotion, keeping the cause's
// kind (FieldError, ErrInUse, ...) for the API to map.
func promotionErr(kind, key string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{In: fe.In, Field: fe.Field, Problem: fmt.Sprintf("%s (in production, %s %q)", fe.Problem, kind, key)}
	}
	return fmt.Errorf("promote %s %q to production: %w", kind, key, err)
}

func sortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// planSettings adds the environment settings that differ to the plan.
func (s *Service) planSettings(ctx context.Context, tx pgx.Tx, t Tenant, p *plan) error {
	rs, err := s.store.envByTenant(ctx, tx, t.ID, Staging, false)
	if err != nil {
		return err
	}
	rp, err := s.store.envByTenant(ctx, tx, t.ID, Production, true)
	if err != nil {
		return err
	}
	staging, production := s.settings(rs), s.settings(rp)
	setting := func(name string) {
		p.hasSettings = true
		p.changes = append(p.changes, Change{Kind: "setting", Action: ActionUpdate, Key: name})
	}
	callback := func(name, from, to string, field **string) {
		if from != to {
			*field = &from
			setting(name)
		}
	}
	callback("callbackSuccessUrl", staging.Callbacks.Success, production.Callbacks.Success, &p.settings.CallbackSuccessURL)
	callback("callbackFailureUrl", staging.Callbacks.Failure, production.Callbacks.Failure, &p.settings.CallbackFailureURL)
	callback("callbackPendingUrl", staging.Callbacks.Pending, production.Callbacks.Pending, &p.settings.CallbackPendingURL)
	callback("callbackCancelUrl", staging.Callbacks.Cancel, production.Callbacks.Cancel, &p.settings.CallbackCancelURL)
	if !slices.Equal(staging.IPAllowList, production.IPAllowList) {
		list := make([]string, 0, len(staging.IPAllowList))
		for _, pfx := range staging.IPAllowList {
			list = append(list, pfx.String())
		}
		p.settings.IPAllowList = &list
		setting("ipAllowList")
	}
	// A staging environment without a plugin leaves production's alone:
	// there is nothing to switch to, and unsetting is plugin management's.
	if staging.ActivePluginID != 0 && staging.ActivePluginID != production.ActivePluginID {
		p.activePlugin = staging.ActivePluginID
		p.changes = append(p.changes, Change{Kind: "setting", Action: ActionUpdate, Key: "activePlugin"})
	}
	return nil
}

// applySettings writes the planned settings through the environment's own
// validation (production refuses http callback URLs) and audit.
func (s *Service) applySettings(ctx context.Context, tx pgx.Tx, t Tenant, p *plan) error {
	if p.hasSettings {
		if _, err := s.UpdateEnvironmentTx(ctx, tx, t, Production, p.settings); err != nil {
			return promotionErr("setting", "environment", err)
		}
	}
	if p.activePlugin != 0 {
		if err := s.SetActivePluginTx(ctx, tx, t, Production, p.activePlugin); err != nil {
			return promotionErr("setting", "activePlugin", err)
		}
	}
	return nil
}
