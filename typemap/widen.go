package typemap

// Widens reports whether every value of a column of type from fits a column of type to unchanged, so
// that the engine may ALTER the column in place instead of rebuilding the table. It is true for the
// same type and for: longer char/varchar/nchar/nvarchar/binary/varbinary lengths and (max) (char(n)
// may become varchar(m ≥ n), binary(n) varbinary(m ≥ n)); varchar → nvarchar and char → nchar of at least
// the same length; sysname → nvarchar(≥128); tinyint → smallint → int → bigint; decimal(p,s) →
// decimal(q,t) with at least as many integer digits (q-t ≥ p-s) and t ≥ s; real → float;
// smalldatetime → datetime; datetime → datetime2(≥3); smalldatetime → datetime2(any);
// datetime2(p) → datetime2(q ≥ p); time(p) → time(q ≥ p); datetimeoffset(p) → datetimeoffset(q ≥ p).
// Everything else is false, including any narrowing and every change between type families.
func Widens(from, to Type) bool {
	if from == to {
		return true
	}
	switch from.Kind {
	case TinyInt, SmallInt, Int, BigInt:
		return to.IsInteger() && intRank(to.Kind) >= intRank(from.Kind)
	case Decimal:
		return to.Kind == Decimal && to.Precision-to.Scale >= from.Precision-from.Scale && to.Scale >= from.Scale
	case Real:
		return to.Kind == Float || to.Kind == Real
	case SmallDateTime:
		return to.Kind == DateTime || to.Kind == DateTime2
	case DateTime:
		return to.Kind == DateTime2 && to.Precision >= 3
	case DateTime2, Time, DateTimeOffset:
		return to.Kind == from.Kind && to.Precision >= from.Precision
	case Char:
		switch to.Kind {
		case Char, VarChar, NChar, NVarChar:
			return lengthFits(from.Length, to.Length)
		}
	case VarChar:
		switch to.Kind {
		case VarChar, NVarChar:
			return lengthFits(from.Length, to.Length)
		}
	case NChar:
		switch to.Kind {
		case NChar, NVarChar:
			return lengthFits(from.Length, to.Length)
		}
	case NVarChar:
		return to.Kind == NVarChar && lengthFits(from.Length, to.Length)
	case SysName:
		return to.Kind == NVarChar && lengthFits(128, to.Length)
	case Binary:
		switch to.Kind {
		case Binary, VarBinary:
			return lengthFits(from.Length, to.Length)
		}
	case VarBinary:
		return to.Kind == VarBinary && lengthFits(from.Length, to.Length)
	}
	return false
}

// lengthFits reports whether a length of from fits a length of to, Max being the largest. A fixed
// length (char, nchar, binary) can never be Max, so the callers' kind checks keep Max out of those.
func lengthFits(from, to int) bool {
	if to == Max {
		return true
	}
	if from == Max {
		return false
	}
	return to >= from
}

func intRank(k Kind) int {
	switch k {
	case TinyInt:
		return 1
	case SmallInt:
		return 2
	case Int:
		return 3
	case BigInt:
		return 4
	}
	return 0
}
