package tenant

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/partnerhub/partnerhub/internal/db"
)

// The catalog's service methods. Every one is scoped by tenant and
// environment: an id from another tenant or environment is ErrNotFound.
// Writes have ...Tx twins (promotion copies a catalog in one transaction)
// and record an audit entry in their transaction.

// checkScope refuses a scope no catalog can be in.
func checkScope(tenantID int64, env string) error {
	if tenantID <= 0 || !ValidEnv(env) {
		return ErrNotFound
	}
	return nil
}

// CreateProduct adds a product to tenantID's env catalog.
func (s *Service) CreateProduct(ctx context.Context, tenantID int64, env string, p ProductParams) (Product, error) {
	var out Product
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.CreateProductTx(ctx, tx, tenantID, env, p)
		return err
	})
	return out, err
}

// CreateProductTx is CreateProduct inside the caller's transaction.
func (s *Service) CreateProductTx(ctx context.Context, tx pgx.Tx, tenantID int64, env string, p ProductParams) (Product, error) {
	if err := checkScope(tenantID, env); err != nil {
		return Product{}, err
	}
	if err := p.Validate(env); err != nil {
		return Product{}, err
	}
	out, err := s.store.insertProduct(ctx, tx, tenantID, env, p)
	if err != nil {
		return Product{}, err
	}
	if err := s.AuditTx(ctx, tx, "product.create", tenantID, productTarget(out.ID),
		map[string]any{"environment": env, "name": out.Name}); err != nil {
		return Product{}, err
	}
	return out, nil
}

// GetProduct returns one product of tenantID's env catalog.
func (s *Service) GetProduct(ctx context.Context, tenantID int64, env string, id int64) (Product, error) {
	if err := checkScope(tenantID, env); err != nil {
		return Product{}, err
	}
	return s.store.productByID(ctx, s.pool, tenantID, env, id, "")
}

// ListProducts returns a page of tenantID's env products in id order.
func (s *Service) ListProducts(ctx context.Context, tenantID int64, env string, f ProductFilter) (ProductPage, error) {
	after, err := DecodeCursor(f.Cursor)
	if err != nil {
		return ProductPage{}, err
	}
	if err := checkScope(tenantID, env); err != nil {
		return ProductPage{}, err
	}
	limit := PageLimit(f.Limit)
	ps, err := s.store.listProducts(ctx, s.pool, tenantID, env, after, limit+1)
	if err != nil {
		return ProductPage{}, err
	}
	page := ProductPage{Products: ps}
	if len(ps) > limit {
		page.Products = ps[:limit]
		page.NextCursor = EncodeCursor(ps[limit-1].ID)
	}
	return page, nil
}

// UpdateProduct replaces a product's fields. Dropping a country that one of
// its bundles still has a price for is ErrInUse.
func (s *Service) UpdateProduct(ctx context.Context, tenantID int64, env string, id int64, p ProductParams) (Product, error) {
	var out Product
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.UpdateProductTx(ctx, tx, tenantID, env, id, p)
		return err
	})
	return out, err
}

// UpdateProductTx is UpdateProduct inside the caller's transaction.
func (s *Service) UpdateProductTx(ctx context.Context, tx pgx.Tx, tenantID int64, env string, id int64, p ProductParams) (Product, error) {
	if err := checkScope(tenantID, env); err != nil {
		return Product{}, err
	}
	if err := p.Validate(env); err != nil {
		return Product{}, err
	}
	// The lock orders this against bundle writes, which read the product's
	// countries under FOR SHARE.
	if _, err := s.store.productByID(ctx, tx, tenantID, env, id, lockUpdate); err != nil {
		return Product{}, err
	}
	priced, err := s.store.pricedOutside(ctx, tx, tenantID, env, id, p.Countries)
	if err != nil {
		return Product{}, err
	}
	if len(priced) > 0 {
		return Product{}, fmt.Errorf("%w: countries: bundles of this product still have prices in %s; remove those prices first",
			ErrInUse, strings.Join(priced, ", "))
	}
	out, err := s.store.updateProduct(ctx, tx, tenantID, env, id, p)
	if err != nil {
		return Product{}, err
	}
	if err := s.AuditTx(ctx, tx, "product.update", tenantID, productTarget(id),
		map[string]any{"environment": env, "name": out.Name}); err != nil {
		return Product{}, err
	}
	return out, nil
}

// DeleteProduct removes a product; one that still has bundles is ErrInUse.
func (s *Service) DeleteProduct(ctx context.Context, tenantID int64, env string, id int64) error {
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		return s.DeleteProductTx(ctx, tx, tenantID, env, id)
	})
}

// DeleteProductTx is DeleteProduct inside the caller's transaction.
func (s *Service) DeleteProductTx(ctx context.Context, tx pgx.Tx, tenantID int64, env string, id int64) error {
	if err := checkScope(tenantID, env); err != nil {
		return err
	}
	// FOR UPDATE waits for bundle writes holding the product FOR SHARE, so
	// the count below sees every bundle that will exist.
	p, err := s.store.productByID(ctx, tx, tenantID, env, id, lockUpdate)
	if err != nil {
		return err
	}
	skus, n, err := s.store.bundlesOfProduct(ctx, tx, tenantID, env, id, maxInUseExamples)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: product %d has %d bundle(s) (%s); delete them first", ErrInUse, id, n, examples(skus, n))
	}
	if err := s.store.deleteProduct(ctx, tx, tenantID, env, id); err != nil {
		return err
	}
	return s.AuditTx(ctx, tx, "product.delete", tenantID, productTarget(id),
		map[string]any{"environment": env, "name": p.Name})
}

// CreateBundle adds a bundle, with its prices, to a product of tenantID's
// env catalog. A SKU already used in the environment is ErrConflict; a
// price in a country the product is not enabled in is a FieldError.
func (s *Service) CreateBundle(ctx context.Context, tenantID int64, env string, p BundleParams) (Bundle, error) {
	var out Bundle
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.CreateBundleTx(ctx, tx, tenantID, env, p)
		return err
	})
	return out, err
}

// CreateBundleTx is CreateBundle inside the caller's transaction.
func (s *Service) CreateBundleTx(ctx context.Context, tx pgx.Tx, tenantID int64, env string, p BundleParams) (Bundle, error) {
	if err := s.checkBundle(ctx, tx, tenantID, env, p); err != nil {
		return Bundle{}, err
	}
	out, err := s.store.insertBundle(ctx, tx, tenantID, env, p)
	if err != nil {
		return Bundle{}, err
	}
	if out.Prices, err = s.store.replacePrices(ctx, tx, tenantID, env, out.ID, p.Prices); err != nil {
		return Bundle{}, err
	}
	if err := s.AuditTx(ctx, tx, "bundle.create", tenantID, bundleTarget(out.ID),
		map[string]any{"environment": env, "sku": out.SKU, "productId": out.ProductID, "prices": len(out.Prices)}); err != nil {
		return Bundle{}, err
	}
	return out, nil
}

// checkBundle validates p, then its prices against the product's countries
// with the product held FOR SHARE until the transaction ends, so that the
// product cannot lose a priced country meanwhile.
func (s *Service) checkBundle(ctx context.Context, tx pgx.Tx, tenantID int64, env string, p BundleParams) error {
	if err := checkScope(tenantID, env); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	product, err := s.store.productByID(ctx, tx, tenantID, env, p.ProductID, lockShare)
	if errors.Is(err, ErrNotFound) {
		return errNoProduct()
	}
	if err != nil {
		return err
	}
	return checkPriceCountries(p.Prices, product)
}

// errNoProduct is a bundle's productId naming no product of its scope.
func errNoProduct() error {
	return &FieldError{Field: "productId", Problem: "no product with this id in this environment"}
}

// GetBundle returns one bundle, with its prices, of tenantID's env catalog.
func (s *Service) GetBundle(ctx context.Context, tenantID int64, env string, id int64) (Bundle, error) {
	if err := checkScope(tenantID, env); err != nil {
		return Bundle{}, err
	}
	b, err := s.store.bundleByID(ctx, s.pool, tenantID, env, id, "")
	if err != nil {
		return Bundle{}, err
	}
	if err := s.store.loadPrices(ctx, s.pool, tenantID, env, []*Bundle{&b}); err != nil {
		return Bundle{}, err
	}
	return b, nil
}

// ListBundles returns a page of tenantID's env bundles, with their prices,
// in id order.
func (s *Service) ListBundles(ctx context.Context, tenantID int64, env string, f BundleFilter) (BundlePage, error) {
	after, err := DecodeCursor(f.Cursor)
	if err != nil {
		return BundlePage{}, err
	}
	if err := checkScope(tenantID, env); err != nil {
		return BundlePage{}, err
	}
	limit := PageLimit(f.Limit)
	bs, err := s.store.listBundles(ctx, s.pool, tenantID, env, f, after, limit+1)
	if err != nil {
		return BundlePage{}, err
	}
	page := BundlePage{Bundles: bs}
	if len(bs) > limit {
		page.Bundles = bs[:limit]
		page.NextCursor = EncodeCursor(bs[limit-1].ID)
	}
	ptrs := make([]*Bundle, len(page.Bundles))
	for i := range page.Bundles {
		ptrs[i] = &page.Bundles[i]
	}
	if err := s.store.loadPrices(ctx, s.pool, tenantID, env, ptrs); err != nil {
		return BundlePage{}, err
	}
	return page, nil
}

// UpdateBundle replaces a bundle's fields and prices; it may move to
// another product of the same environment.
func (s *Service) UpdateBundle(ctx context.Context, tenantID int64, env string, id int64, p BundleParams) (Bundle, error) {
	var out Bundle
	err := db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.UpdateBundleTx(ctx, tx, tenantID, env, id, p)
		return err
	})
	return out, err
}

// UpdateBundleTx is UpdateBundle inside the caller's transaction.
func (s *Service) UpdateBundleTx(ctx context.Context, tx pgx.Tx, tenantID int64, env string, id int64, p BundleParams) (Bundle, error) {
	if err := s.checkBundle(ctx, tx, tenantID, env, p); err != nil {
		return Bundle{}, err
	}
	out, err := s.store.updateBundle(ctx, tx, tenantID, env, id, p)
	if err != nil {
		return Bundle{}, err
	}
	if out.Prices, err = s.store.replacePrices(ctx, tx, tenantID, env, out.ID, p.Prices); err != nil {
		return Bundle{}, err
	}
	if err := s.AuditTx(ctx, tx, "bundle.update", tenantID, bundleTarget(id),
		map[string]any{"environment": env, "sku": out.SKU, "productId": out.ProductID, "prices": len(out.Prices)}); err != nil {
		return Bundle{}, err
	}
	return out, nil
}

// DeleteBundle removes a bundle and its prices. A bundle that payments
// bought is ErrInUse, naming (some of) those payments.
func (s *Service) DeleteBundle(ctx context.Context, tenantID int64, env string, id int64) error {
	return db.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		return s.DeleteBundleTx(ctx, tx, tenantID, env, id)
	})
}

// DeleteBundleTx is DeleteBundle inside the caller's transaction.
func (s *Service) DeleteBundleTx(ctx context.Context, tx pgx.Tx, tenantID int64, env string, id int64) error {
	if err := checkScope(tenantID, env); err != nil {
		return err
	}
	// FOR UPDATE waits for a payment item being added to this bundle (its
	// foreign key holds the row FOR KEY SHARE), so the check below is final.
	b, err := s.store.bundleByID(ctx, tx, tenantID, env, id, lockUpdate)
	if err != nil {
		return err
	}
	refs, n, err := s.store.paymentsOfBundle(ctx, tx, tenantID, env, id, maxInUseExamples)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: bundle %d (sku %s) is referenced by %d payment(s) (%s); a bundle that was sold is kept",
			ErrInUse, id, b.SKU, n, examples(refs, n))
	}
	if err := s.store.deleteBundle(ctx, tx, tenantID, env, id); err != nil {
		return err
	}
	return s.AuditTx(ctx, tx, "bundle.delete", tenantID, bundleTarget(id),
		map[string]any{"environment": env, "sku": b.SKU, "productId": b.ProductID})
}

func productTarget(id int64) string { return "product:" + strconv.FormatInt(id, 10) }
func bundleTarget(id int64) string  { return "bundle:" + strconv.FormatInt(id, 10) }

// examples lists some of n names: "a, b, c" or "a, b, c and 7 more".
func examples(names []string, n int) string {
	s := strings.Join(names, ", ")
	if more := n - len(names); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}
