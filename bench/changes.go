package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mirrorsink/mirrorsink/contract"
	"github.com/mirrorsink/mirrorsink/protocol"
	"github.com/mirrorsink/mirrorsink/typemap"
)

// The raw limit of an incremental cycle is the database's own set-based apply of the same change set:
// the updated rows and the deleted keys loaded with the raw tool into temporary tables, then one
// UPDATE and one DELETE joined with them, in one transaction. The change set is the one the cycle
// sent: the bench decodes its recorded RowData calls, as the service did, and writes the rows in the
// raw tool's format.

// changeSet is the change set of a cycle, as files for the raw tool.
type changeSet struct {
	updates, deletes int64
	// updPath holds the updated (and inserted) rows, every column; delPath the deleted keys.
	updPath, delPath string
}

// writeChangeSet writes the rows that the recorded calls send for table to files in dir, in the
// flavor's format. The key is the first column, as the mirror's.
func writeChangeSet(ctx context.Context, calls []recordedCall, table string, f tsvFlavor, dir string) (changeSet, error) {
	cs := changeSet{updPath: dir + "/changes-" + table + "-" + f.String() + ".upd.tsv", delPath: dir + "/changes-" + table + "-" + f.String() + ".del.tsv"}
	upd, err := os.Create(cs.updPath)
	if err != nil {
		return cs, fmt.Errorf("change set: %w", err)
	}
	defer upd.Close()
	del, err := os.Create(cs.delPath)
	if err != nil {
		return cs, fmt.Errorf("change set: %w", err)
	}
	defer del.Close()
	uw, dw := bufio.NewWriterSize(upd, 1<<20), bufio.NewWriterSize(del, 1<<20)
	for _, c := range calls {
		if err := ctx.Err(); err != nil {
			return cs, err
		}
		if err := changesOfCall(ctx, c.path, table, f, uw, dw, &cs); err != nil {
			return cs, fmt.Errorf("change set: %s: %w", c.path, err)
		}
	}
	for _, w := range []*bufio.Writer{uw, dw} {
		if err := w.Flush(); err != nil {
			return cs, fmt.Errorf("change set: %w", err)
		}
	}
	for _, file := range []*os.File{upd, del} {
		if err := file.Close(); err != nil {
			return cs, fmt.Errorf("change set: %w", err)
		}
	}
	return cs, nil
}

// changesOfCall appends the rows of one recorded call for table; calls other than RowData are skipped.
func changesOfCall(ctx context.Context, path, table string, f tsvFlavor, upd, del io.Writer, cs *changeSet) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	d := protocol.NewRequestDecoder(file, protocol.DecodeOptions{})
	defer d.Close()
	h, err := d.ReadHeader()
	if err != nil {
		return err
	}
	if h.Op != protocol.OpRowData {
		return nil
	}
	req, err := d.RowData()
	if err != nil {
		return err
	}
	var line []byte
	for {
		b, err := req.Batches.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if b.Table.Name != table {
			continue
		}
		decoders := make([]typemap.Decoder, len(b.Table.Columns))
		for i, c := range b.Table.Columns {
			col, err := typemap.ParseColumn(c)
			if err != nil {
				return err
			}
			decoders[i] = typemap.DecoderFor(col.Type)
		}
		for b.Rows.Next() {
			row := b.Rows.Row()
			values, out := row.Values, upd
			if row.Op == contract.Delete {
				values, out = values[:1], del
				cs.deletes++
			} else {
				cs.updates++
			}
			if line, err = appendLine(line[:0], f, decoders, values); err != nil {
				return err
			}
			if _, err := out.Write(line); err != nil {
				return err
			}
		}
		if err := b.Rows.Err(); err != nil {
			return err
		}
	}
}
