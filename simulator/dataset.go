package simulator

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// Datasets lists the datasets Generate knows.
var Datasets = []string{"crm", "types"}

// noDate is SuperOffice's "no date" value, stored where a date is unknown.
var noDate = time.Date(1760, 1, 1, 0, 0, 0, 0, time.UTC)

// genFunc makes one column value (nil for NULL) of row id.
type genFunc func(r *rand.Rand, id int64) any

// tableSpec is a dataset table: its columns, a generator per column and its share of --rows.
type tableSpec struct {
	Table
	gens []genFunc
	// rows returns the table's row count for a dataset of n rows.
	rows func(n int64) int64
}

// GenerateOptions configure Generate.
type GenerateOptions struct {
	// Dataset is "crm" or "types".
	Dataset string
	// Rows scales the dataset: the crm contact table gets Rows rows, other tables proportionally; the
	// types table gets its edge rows plus Rows random rows.
	Rows int64
	// Seed makes generation deterministic.
	Seed uint64
	// MinYear is the first year that dates of the types dataset use (default 1; MySQL needs 1000).
	MinYear int
	// Tables, when not empty, limits generation to these tables of the dataset (e.g. only the crm
	// contact table, for a benchmark of one large table); a name the dataset lacks is an error.
	Tables []string
}

// Generate creates and populates the tables of a dataset in an empty source, in one transaction.
func Generate(ctx context.Context, src *Source, opts GenerateOptions) error {
	specs, err := datasetSpecs(opts)
	if err != nil {
		return err
	}
	existing, err := src.Tables(ctx)
	if err != nil {
		return err
	}
	if len(existing) > 0 {
		return fmt.Errorf("generate %s: the source already has %d tables", opts.Dataset, len(existing))
	}
	return src.Write(ctx, func(w *Writer) error {
		for _, spec := range specs {
			if err := w.CreateTable(spec.Table); err != nil {
				return err
			}
			n := spec.rows(opts.Rows)
			r := tableRand(opts.Seed, spec.Name)
			values := make([]any, len(spec.gens))
			for id := int64(1); id <= n; id++ {
				if id%4096 == 0 && ctx.Err() != nil {
					return ctx.Err()
				}
				for i, g := range spec.gens {
					values[i] = g(r, id)
				}
				if err := w.Load(spec.Name, values); err != nil {
					return err
				}
			}
			if err := w.SetNextID(spec.Name, n+1); err != nil {
				return err
			}
		}
		return nil
	})
}

// tableRand returns the deterministic random source of one table for a seed.
func tableRand(seed uint64, table string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(table))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

func datasetSpecs(opts GenerateOptions) ([]tableSpec, error) {
	var specs []tableSpec
	switch opts.Dataset {
	case "crm":
		specs = crmSpecs()
	case "types":
		specs = []tableSpec{typesSpec(opts.MinYear)}
	default:
		return nil, fmt.Errorf("unknown dataset %q (known: %s)", opts.Dataset, strings.Join(Datasets, ", "))
	}
	if len(opts.Tables) == 0 {
		return specs, nil
	}
	var chosen []tableSpec
	for _, name := range opts.Tables {
		i := slices.IndexFunc(specs, func(s tableSpec) bool { return s.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("dataset %s has no table %q", opts.Dataset, name)
		}
		chosen = append(chosen, specs[i])
	}
	return chosen, nil
}

// RowGenerator returns a generator of whole rows for a table of a dataset, for churn: it makes the
// values of row id (id becomes the key). ok is false for a table the dataset does not define (e.g. one
// added by a schema change), for which Churn falls back to generic values by type.
func rowGenerator(dataset string, t Table) func(r *rand.Rand, id int64) ([]any, error) {
	specs, _ := datasetSpecs(GenerateOptions{Dataset: dataset, MinYear: 1000})
	gens := map[string]genFunc{}
	for _, s := range specs {
		if s.Name == t.Name {
			for i, c := range s.Columns {
				gens[c.Name+"\x00"+c.Type] = s.gens[i]
			}
		}
	}
	fallbacks := make([]genFunc, len(t.Columns))
	for i, c := range t.Columns {
		if g, ok := gens[c.Name+"\x00"+c.Type]; ok {
			fallbacks[i] = g
			continue
		}
		ty, err := typemap.ParseType(c.Type)
		if err != nil {
			return func(*rand.Rand, int64) ([]any, error) { return nil, err }
		}
		fallbacks[i] = byType(c, ty)
	}
	return func(r *rand.Rand, id int64) ([]any, error) {
		vals := make([]any, len(fallbacks))
		for i, g := range fallbacks {
			vals[i] = g(r, id)
		}
		// The key column is the id itself, in the key's type.
		ty, err := typemap.ParseType(t.Columns[0].Type)
		if err != nil {
			return nil, err
		}
		if ty.IsInteger() {
			vals[0] = id
		}
		return vals, nil
	}
}

// byType makes a generic generator for a column by its type: the fallback for columns no dataset
// describes.
func byType(c Column, t typemap.Type) genFunc {
	nullable := c.Nullable
	inner := func(r *rand.Rand, id int64) any {
		switch {
		case t.Kind == typemap.Bit:
			return r.IntN(2) == 1
		case t.IsInteger():
			if t.Kind == typemap.TinyInt {
				return int64(r.IntN(256))
			}
			if t.Kind == typemap.SmallInt {
				return int64(r.IntN(100))
			}
			return r.Int64N(100000)
		case t.IsDecimal():
			_, scale := t.NumericPrecisionScale()
			return typemap.DecimalValue(fmt.Sprintf("%d.%0*d", r.IntN(1000), scale, 0))
		case t.IsFloat():
			return float64(r.IntN(100000)) / 4
		case t.Kind == typemap.Time:
			return typemap.TimeOfDay(r.Int64N(86400) * int64(time.Second))
		case t.Kind == typemap.DateTimeOffset:
			return randomDate(r).In(time.FixedZone("", 3600))
		case t.Kind == typemap.Date:
			y, m, d := randomDate(r).Date()
			return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		case t.IsTemporal():
			return randomDate(r)
		case t.IsBinary():
			n := 8
			if t.Kind == typemap.Binary || t.Kind == typemap.RowVersion {
				n = max(t.MaxLength(), 1)
			}
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(r.IntN(256))
			}
			return b
		case t.Kind == typemap.UniqueIdentifier:
			var u typemap.UUID
			for i := range u {
				u[i] = byte(r.IntN(256))
			}
			return u
		}
		s := words(r, 1+r.IntN(3))
		if n := t.MaxLength(); n > 0 && len([]rune(s)) > n {
			s = string([]rune(s)[:n])
		}
		if t.IsFixedLength() && t.MaxLength() > 0 {
			s = padRight(s, t.MaxLength())
		}
		return s
	}
	return func(r *rand.Rand, id int64) any {
		if nullable && r.IntN(10) == 0 {
			return nil
		}
		return inner(r, id)
	}
}

// padRight pads s with spaces to n characters, as SQL Server stores char(n) and nchar(n).
func padRight(s string, n int) string {
	if k := n - len([]rune(s)); k > 0 {
		return s + strings.Repeat(" ", k)
	}
	return s
}

// randomDate returns a datetime between 2000 and 2025, to the second (exact in every datetime kind).
func randomDate(r *rand.Rand) time.Time {
	return time.Unix(946684800+r.Int64N(26*365*86400), 0).UTC()
}

var vocabulary = strings.Fields(`alpha bravo nordic solutions consulting group trading holding invest media
	data systems partners energy marine logistics design studio health care software services
	bygg eiendom regnskap transport handel Ærø Ålesund Göteborg Müller café naïve Zürich Łódź Kraków
	meeting follow-up quote contract renewal demo workshop lunch invoice support release`)

// words returns n random words separated by spaces.
func words(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocabulary[r.IntN(len(vocabulary))])
	}
	return b.String()
}
