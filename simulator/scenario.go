package simulator

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/mirrorsink/mirrorsink/typemap"
)

// Scenarios lists the scenarios RunScenario knows.
var Scenarios = []string{"initial", "churn", "schema-change", "reset", "restore"}

// ChurnOptions say how many rows Churn changes.
type ChurnOptions struct {
	Inserts, Updates, Deletes int
	// Reinserts inserts rows again under keys that earlier tracked deletes removed (at most as many as
	// there are), before this churn's deletes: a mirror that keeps deleted rows revives them.
	Reinserts int
	// Dataset is the dataset whose generators make the new values ("crm" or "types").
	Dataset string
	Seed    uint64
}

// ChurnResult counts what Churn did.
type ChurnResult struct {
	Inserts, Updates, Deletes, Reinserts int
}

// Churn inserts, updates and deletes rows spread over the source's tables in proportion to their
// sizes, all tracked, in one transaction.
func Churn(ctx context.Context, src *Source, opts ChurnOptions) (ChurnResult, error) {
	var res ChurnResult
	tables, err := src.Tables(ctx)
	if err != nil {
		return res, err
	}
	if len(tables) == 0 {
		return res, errors.New("churn: the source has no tables")
	}
	weights := make([]int64, len(tables))
	var total int64
	for i, t := range tables {
		n, err := src.RowCount(ctx, t.Name)
		if err != nil {
			return res, err
		}
		weights[i] = n + 1
		total += n + 1
	}
	split := func(n int) []int {
		out := make([]int, len(tables))
		given := 0
		for i, w := range weights {
			out[i] = int(int64(n) * w / total)
			given += out[i]
		}
		// The remainder goes to the largest tables first, so that small totals still do something.
		order := make([]int, len(tables))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return int(weights[b] - weights[a]) })
		for i := 0; given < n; i = (i + 1) % len(order) {
			out[order[i]]++
			given++
		}
		return out
	}
	ins, upd, del, reins := split(opts.Inserts), split(opts.Updates), split(opts.Deletes), split(opts.Reinserts)
	err = src.Write(ctx, func(w *Writer) error {
		for i, t := range tables {
			r := tableRand(opts.Seed^0x9e3779b97f4a7c15, t.Name)
			gen := rowGenerator(opts.Dataset, t)
			keyType, err := typemap.ParseType(t.Columns[0].Type)
			if err != nil {
				return err
			}
			for range ins[i] {
				id, err := w.NextID(t.Name)
				if err != nil {
					return err
				}
				vals, err := gen(r, id)
				if err != nil {
					return err
				}
				if !keyType.IsInteger() {
					return fmt.Errorf("churn: %s: inserts need an integer key", t.Name)
				}
				if err := w.Insert(t.Name, vals); err != nil {
					return err
				}
				res.Inserts++
			}
			gone, err := w.DeletedKeys(t.Name, reins[i], r)
			if err != nil {
				return err
			}
			for _, k := range gone {
				id, ok := k.(int64)
				if !ok {
					return fmt.Errorf("churn: %s: re-inserts need an integer key", t.Name)
				}
				vals, err := gen(r, id)
				if err != nil {
					return err
				}
				vals[0] = k
				if err := w.Insert(t.Name, vals); err != nil {
					return err
				}
				res.Reinserts++
			}
			keys, err := w.PickKeys(t.Name, upd[i]+del[i], r)
			if err != nil {
				return err
			}
			for j, k := range keys {
				if j < upd[i] {
					id, _ := k.(int64)
					vals, err := gen(r, id)
					if err != nil {
						return err
					}
					vals[0] = k
					if err := w.Update(t.Name, vals); err != nil {
						return err
					}
					res.Updates++
					continue
				}
				if err := w.Delete(t.Name, k); err != nil {
					return err
				}
				res.Deletes++
			}
		}
		return nil
	})
	return res, err
}

// SchemaChangeResult says what SchemaChange did.
type SchemaChangeResult struct {
	Added, Widened, Retyped string // table.column
	Dropped, Created        string // tables
}

// pick returns the first of the preferred tables that exists, else the first table not in avoid.
func pick(tables []Table, avoid []string, preferred ...string) *Table {
	for _, p := range preferred {
		for i := range tables {
			if tables[i].Name == p && !slices.Contains(avoid, p) {
				return &tables[i]
			}
		}
	}
	for i := range tables {
		if !slices.Contains(avoid, tables[i].Name) {
			return &tables[i]
		}
	}
	return nil
}

// SchemaChange changes the source's schema as SuperOffice upgrades do: it adds a column (and fills it
// in a few rows), widens an nvarchar, changes a column to an incompatible type (which restarts that
// table's change tracking), drops a table (when there are more than one) and creates a new one with rows.
func SchemaChange(ctx context.Context, src *Source, seed uint64) (SchemaChangeResult, error) {
	var res SchemaChangeResult
	tables, err := src.Tables(ctx)
	if err != nil {
		return res, err
	}
	if len(tables) == 0 {
		return res, errors.New("schema change: the source has no tables")
	}
	r := rand.New(rand.NewPCG(seed, 42))
	err = src.Write(ctx, func(w *Writer) error {
		add := pick(tables, nil, "contact", "alltypes")
		col := Column{Name: "mirrorsink_added_" + strconv.Itoa(len(add.Columns)), Type: "nvarchar(50)", Nullable: true}
		if err := w.AddColumn(add.Name, col); err != nil {
			return err
		}
		res.Added = add.Name + "." + col.Name
		keys, err := w.PickKeys(add.Name, 5, r)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := setColumn(ctx, src, w, add.Name, k, col.Name, "added "+strconv.Itoa(r.IntN(1000))); err != nil {
				return err
			}
		}

		if wt := pick(tables, nil, "person", "alltypes"); wt != nil {
			for _, c := range wt.Columns[1:] {
				ty, err := typemap.ParseType(c.Type)
				if err == nil && ty.Kind == typemap.NVarChar && ty.Length > 0 && ty.Length < 2000 {
					if err := w.AlterColumn(wt.Name, c.Name, fmt.Sprintf("nvarchar(%d)", ty.Length*2), nil, nil); err != nil {
						return err
					}
					res.Widened = wt.Name + "." + c.Name
					break
				}
			}
		}

		if rt := pick(tables, nil, "sale", "alltypes"); rt != nil {
			for _, c := range rt.Columns[1:] {
				ty, err := typemap.ParseType(c.Type)
				if err == nil && ty.IsInteger() && ty.Kind != typemap.Bit {
					toText := func(v any) (any, error) { return strconv.FormatInt(v.(int64), 10), nil }
					def := ""
					if err := w.AlterColumn(rt.Name, c.Name, "nvarchar(40)", &def, toText); err != nil {
						return err
					}
					res.Retyped = rt.Name + "." + c.Name
					break
				}
			}
		}

		if len(tables) > 1 {
			drop := pick(tables, []string{add.Name}, "invitation")
			if err := w.DropTable(drop.Name); err != nil {
				return err
			}
			res.Dropped = drop.Name
		}

		project := Table{Name: "project", Columns: []Column{
			{Name: "project_id", Type: "int"},
			{Name: "name", Type: "nvarchar(254)", Default: dEmpty},
			{Name: "project_number", Type: "nvarchar(254)", Default: dEmpty},
			{Name: "type_idx", Type: "int", Default: dZero},
			{Name: "status", Type: "smallint", Default: dZero},
			{Name: "done", Type: "smallint", Default: dZero},
			{Name: "endDate", Type: "datetime", Nullable: true},
			{Name: "registered", Type: "datetime"},
		}}
		// Each schema change creates a table of its own: a name no table has (not even one this change
		// dropped, whose rows the mirror may still hold until its next cycle).
		taken := func(name string) bool {
			return slices.ContainsFunc(tables, func(t Table) bool { return t.Name == name })
		}
		for k := seed % 1000; taken(project.Name); k++ {
			project.Name = "project_" + strconv.FormatUint(k, 10)
		}
		if err := w.CreateTable(project); err != nil {
			return err
		}
		for id := int64(1); id <= 50; id++ {
			vals := []any{id, words(r, 2), fmt.Sprintf("P-%05d", id), int64(r.IntN(5)), int64(r.IntN(3)), int64(r.IntN(2)), randomDate(r), randomDate(r)}
			if r.IntN(4) == 0 {
				vals[6] = nil
			}
			if err := w.Insert(project.Name, vals); err != nil {
				return err
			}
		}
		if err := w.SetNextID(project.Name, 51); err != nil {
			return err
		}
		res.Created = project.Name
		return nil
	})
	return res, err
}

// setColumn updates one column of one row, tracked, keeping the other values.
func setColumn(ctx context.Context, src *Source, w *Writer, table string, key any, column, value string) error {
	wt, err := w.table(table)
	if err != nil {
		return err
	}
	keyText, err := typemap.EncodeWire(wt.types[0], key)
	if err != nil {
		return err
	}
	if _, err := w.tx.ExecContext(ctx, `UPDATE `+quoteIdent(table)+` SET `+quoteIdent(column)+` = ? WHERE `+quoteIdent(wt.t.Columns[0].Name)+` = ?`, value, keyText); err != nil {
		return fmt.Errorf("source: update %s: %w", table, err)
	}
	return w.track(table, keyText, false, false)
}

// ScenarioConfig configures RunScenario.
type ScenarioConfig struct {
	// Scenario is one of Scenarios.
	Scenario string
	// Churn says how many rows each churn step changes (Dataset and Seed are filled in per cycle).
	Churn ChurnOptions
	// Cycles is how many times the scenario's step and its cycle run (default 1).
	Cycles int
	Seed   uint64
	// Verify, when set, compares source and mirror after every cycle; absent names tables that must
	// be gone from the mirror.
	Verify func(ctx context.Context, absent []string) error
	// Reset sets a table's mirror LSN to -1 (for the reset scenario), as an operator would.
	Reset func(ctx context.Context, table string) error
	// Report receives each step's description and, after a cycle, its result.
	Report func(step string, res *CycleResult)
}

// RunScenario brings the mirror up to date with a first cycle, then runs the scenario's step and a
// cycle Cycles times, verifying after each cycle:
//
//	initial        nothing more: later cycles must send nothing
//	churn          inserts, updates and deletes, then a cycle of the changes
//	schema-change  SchemaChange, a cycle, then a churn and a cycle on the new schema
//	reset          the mirror LSN of a table is set to -1: the next cycle wipes and resends it
//	restore        a snapshot, a churn and a cycle, then the source is restored from the snapshot:
//	               the mirror is ahead, and the next cycle resends the changed tables whole
func RunScenario(ctx context.Context, d *Driver, src *Source, cfg ScenarioConfig) error {
	if !slices.Contains(Scenarios, cfg.Scenario) {
		return fmt.Errorf("unknown scenario %q (known: %v)", cfg.Scenario, Scenarios)
	}
	if cfg.Cycles <= 0 {
		cfg.Cycles = 1
	}
	report := cfg.Report
	if report == nil {
		report = func(string, *CycleResult) {}
	}
	cycle := func(step string, absent []string) (CycleResult, error) {
		res, err := d.Cycle(ctx, src)
		if err != nil {
			return res, fmt.Errorf("%s: %w", step, err)
		}
		report(step, &res)
		if cfg.Verify != nil {
			if err := cfg.Verify(ctx, absent); err != nil {
				return res, fmt.Errorf("%s: %w", step, err)
			}
			report(step+": verified", nil)
		}
		return res, nil
	}
	churn := func(i int) error {
		opts := cfg.Churn
		opts.Seed = cfg.Seed + uint64(i)*7919
		res, err := Churn(ctx, src, opts)
		if err != nil {
			return err
		}
		report(fmt.Sprintf("churn: %d inserts, %d updates, %d deletes", res.Inserts, res.Updates, res.Deletes), nil)
		return nil
	}
	if _, err := cycle("first cycle", nil); err != nil {
		return err
	}
	for i := 1; i <= cfg.Cycles; i++ {
		step := fmt.Sprintf("%s %d/%d", cfg.Scenario, i, cfg.Cycles)
		switch cfg.Scenario {
		case "initial":
			res, err := cycle(step, nil)
			if err != nil {
				return err
			}
			if res.Rows != 0 {
				return fmt.Errorf("%s: nothing changed, but the cycle sent %d rows", step, res.Rows)
			}
		case "churn":
			if err := churn(i); err != nil {
				return err
			}
			if _, err := cycle(step, nil); err != nil {
				return err
			}
		case "schema-change":
			sc, err := SchemaChange(ctx, src, cfg.Seed+uint64(i))
			if err != nil {
				return err
			}
			report(fmt.Sprintf("schema change: added %s, widened %s, retyped %s, dropped %q, created %s", sc.Added, sc.Widened, sc.Retyped, sc.Dropped, sc.Created), nil)
			var absent []string
			if sc.Dropped != "" {
				absent = append(absent, sc.Dropped)
			}
			if _, err := cycle(step, absent); err != nil {
				return err
			}
			if err := churn(i); err != nil {
				return err
			}
			if _, err := cycle(step+" (churn on the new schema)", nil); err != nil {
				return err
			}
		case "reset":
			if cfg.Reset == nil {
				return errors.New("reset scenario: no way to reset the mirror (give the mirror's dialect and DSN)")
			}
			tables, err := src.Tables(ctx)
			if err != nil {
				return err
			}
			t := pick(tables, nil, "contact", "alltypes")
			if err := cfg.Reset(ctx, t.Name); err != nil {
				return fmt.Errorf("reset %s: %w", t.Name, err)
			}
			report("reset: the mirror LSN of "+t.Name+" is now -1", nil)
			res, err := cycle(step, nil)
			if err != nil {
				return err
			}
			if !fullyResent(res, t.Name) {
				return fmt.Errorf("%s: table %s was reset but not resent whole", step, t.Name)
			}
		case "restore":
			snap := filepath.Join(filepath.Dir(src.Path()), fmt.Sprintf(".restore-point-%d.db", i))
			os.Remove(snap)
			if err := src.Snapshot(ctx, snap); err != nil {
				return err
			}
			defer os.Remove(snap)
			if err := churn(i); err != nil {
				return err
			}
			if _, err := cycle(step+" (before the restore)", nil); err != nil {
				return err
			}
			if err := src.Restore(ctx, snap); err != nil {
				return err
			}
			lsn, err := src.LSN(ctx)
			if err != nil {
				return err
			}
			report(fmt.Sprintf("restore: the source is back at LSN %d, behind the mirror", lsn), nil)
			res, err := cycle(step+" (after the restore)", nil)
			if err != nil {
				return err
			}
			if !anyFull(res) {
				return fmt.Errorf("%s: the mirror was ahead of the restored source, but no table was resent whole", step)
			}
		}
	}
	return nil
}

func fullyResent(res CycleResult, table string) bool {
	for _, t := range res.Tables {
		if t.Table == table {
			return t.Full
		}
	}
	return false
}

func anyFull(res CycleResult) bool {
	for _, t := range res.Tables {
		if t.Full {
			return true
		}
	}
	return false
}
