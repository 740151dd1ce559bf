package delta

// The transaction log, as PROTOCOL.md of delta-io/delta specifies it:
// "Delta Log Entries" (_delta_log/<20-digit version>.json, one action per
// line), "Actions" (protocol, metaData, add, remove, txn, commitInfo),
// "Checkpoints" (<version>.checkpoint.parquet and _last_checkpoint) and
// "Action Reconciliation" (how a snapshot is the sum of the log).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

const logDir = "_delta_log"

// The protocol versions Sluice writes a new table with ("Protocol
// Evolution"): reader 1, writer 2 (appendOnly and invariants; Sluice only
// appends and writes no invariants).
const (
	newReaderVersion = 1
	newWriterVersion = 2
)

// action is one line of a log entry ("Actions"); exactly one field is set.
type action struct {
	CommitInfo map[string]any `json:"commitInfo,omitempty"`
	Protocol   *protocol      `json:"protocol,omitempty"`
	MetaData   *metaData      `json:"metaData,omitempty"`
	Add        *addFile       `json:"add,omitempty"`
	Remove     *removeFile    `json:"remove,omitempty"`
	Txn        *txn           `json:"txn,omitempty"`
}

// protocol is "Protocol Evolution"'s action.
type protocol struct {
	MinReaderVersion int      `json:"minReaderVersion"`
	MinWriterVersion int      `json:"minWriterVersion"`
	ReaderFeatures   []string `json:"readerFeatures,omitempty"`
	WriterFeatures   []string `json:"writerFeatures,omitempty"`
}

// metaData is "Change Metadata".
type metaData struct {
	ID               string            `json:"id"`
	Name             *string           `json:"name,omitempty"`
	Description      *string           `json:"description,omitempty"`
	Format           format            `json:"format"`
	SchemaString     string            `json:"schemaString"`
	PartitionColumns []string          `json:"partitionColumns"`
	Configuration    map[string]string `json:"configuration"`
	CreatedTime      *int64            `json:"createdTime,omitempty"`
}

type format struct {
	Provider string            `json:"provider"`
	Options  map[string]string `json:"options"`
}

// addFile is "Add File and Remove File"'s add.
type addFile struct {
	Path             string            `json:"path"`
	PartitionValues  map[string]string `json:"partitionValues"`
	Size             int64             `json:"size"`
	ModificationTime int64             `json:"modificationTime"`
	DataChange       bool              `json:"dataChange"`
	Stats            string            `json:"stats,omitempty"`
	Tags             map[string]string `json:"tags,omitempty"`
}

type removeFile struct {
	Path              string `json:"path"`
	DeletionTimestamp *int64 `json:"deletionTimestamp,omitempty"`
	DataChange        bool   `json:"dataChange"`
	Size              *int64 `json:"size,omitempty"`
}

// txn is "Transaction Identifiers": the latest version an application
// committed, for idempotent writes.
type txn struct {
	AppID       string `json:"appId"`
	Version     int64  `json:"version"`
	LastUpdated *int64 `json:"lastUpdated,omitempty"`
}

// tokenKey is the commitInfo field where Sluice records the write token
// of the rows a commit holds (commitInfo may hold any fields).
const tokenKey = "sluiceWriteToken"

// snapshot is the table's state at a version ("Action Reconciliation").
type snapshot struct {
	version  int64 // -1: no table yet
	protocol *protocol
	meta     *metaData
	files    map[string]*addFile
	removed  map[string]*removeFile
	txns     map[string]int64
	// tokens holds, per application, the write token of the commit that
	// carries its latest txn, when that commit's commitInfo is known.
	tokens map[string]string
	// checkpoint is the version of the last checkpoint (-1: none).
	checkpoint int64
}

func newSnapshot() *snapshot {
	return &snapshot{version: -1, checkpoint: -1, files: map[string]*addFile{}, removed: map[string]*removeFile{}, txns: map[string]int64{}, tokens: map[string]string{}}
}

func logName(v int64) string { return path.Join(logDir, fmt.Sprintf("%020d.json", v)) }

func checkpointName(v int64) string {
	return path.Join(logDir, fmt.Sprintf("%020d.checkpoint.parquet", v))
}

// apply adds one log entry's actions to s.
func (s *snapshot) apply(actions []action) {
	token, _ := "", false
	for _, a := range actions {
		if a.CommitInfo != nil {
			token, _ = a.CommitInfo[tokenKey].(string)
		}
	}
	for _, a := range actions {
		switch {
		case a.Protocol != nil:
			s.protocol = a.Protocol
		case a.MetaData != nil:
			s.meta = a.MetaData
		case a.Add != nil:
			s.files[a.Add.Path] = a.Add
			delete(s.removed, a.Add.Path)
		case a.Remove != nil:
			delete(s.files, a.Remove.Path)
			s.removed[a.Remove.Path] = a.Remove
		case a.Txn != nil:
			s.txns[a.Txn.AppID] = a.Txn.Version
			if token != "" {
				s.tokens[a.Txn.AppID] = token
			} else {
				delete(s.tokens, a.Txn.AppID)
			}
		}
	}
}

// parseEntry reads a log entry: newline-delimited JSON actions.
// Actions this writer does not know (cdc, domainMetadata, …) are skipped;
// protocol checks refuse tables whose features would need them.
func parseEntry(data []byte) ([]action, error) {
	var out []action
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 256<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var a action
		if err := json.Unmarshal(line, &a); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, a)
	}
	return out, sc.Err()
}

// lastCheckpoint is the _last_checkpoint file ("Last Checkpoint File").
type lastCheckpoint struct {
	Version int64  `json:"version"`
	Size    int64  `json:"size"`
	Parts   *int64 `json:"parts,omitempty"`
}

// loadSnapshot reads the table's state: the last checkpoint, when there
// is one, and the log entries after it.
func loadSnapshot(st Storage) (*snapshot, error) {
	s := newSnapshot()
	from := int64(0)
	if data, err := st.Read(path.Join(logDir, "_last_checkpoint")); err == nil {
		var lc lastCheckpoint
		if err := json.Unmarshal(data, &lc); err != nil {
			return nil, fmt.Errorf("%s/_last_checkpoint: %w", logDir, err)
		}
		if lc.Parts != nil && *lc.Parts > 1 {
			return nil, fmt.Errorf("%s/_last_checkpoint names a checkpoint of %d parts: multi-part checkpoints are not read by Sluice yet", logDir, *lc.Parts)
		}
		if err := readCheckpoint(st, lc.Version, s); err != nil {
			return nil, err
		}
		s.version, s.checkpoint = lc.Version, lc.Version
		// The checkpoint has no commitInfo: read the write token of the
		// entry it ends at.
		if data, err := st.Read(logName(lc.Version)); err == nil {
			if acts, err := parseEntry(data); err == nil {
				c := newSnapshot()
				c.apply(acts)
				for app, tok := range c.tokens {
					if c.txns[app] == s.txns[app] {
						s.tokens[app] = tok
					}
				}
			}
		}
		from = lc.Version + 1
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := s.update(st, from); err != nil {
		return nil, err
	}
	return s, nil
}

// update applies the log entries from version from on, in order, until
// the first one missing. It lists the log directory, so that a log whose
// first entries were removed (log retention) without a checkpoint before
// them is an error rather than a table to create again.
func (s *snapshot) update(st Storage, from int64) error {
	names, err := st.List(logDir)
	if err != nil {
		return err
	}
	var versions []int64
	for _, n := range names {
		if !strings.HasSuffix(n, ".json") || len(n) != 25 {
			continue
		}
		v, err := strconv.ParseInt(strings.TrimSuffix(n, ".json"), 10, 64)
		if err == nil && v >= from {
			versions = append(versions, v)
		}
	}
	slices.Sort(versions)
	for _, v := range versions {
		if v != s.version+1 {
			if s.version < 0 && v > 0 {
				return fmt.Errorf("%s starts at version %d with no checkpoint before it", logDir, v)
			}
			break
		}
		if err := s.applyVersion(st, v); err != nil {
			return err
		}
	}
	return nil
}

// catchUp applies the entries after s.version that other writers have
// committed, reading version after version until one is missing: a
// commit costs no listing of the whole log.
func (s *snapshot) catchUp(st Storage) error {
	for {
		err := s.applyVersion(st, s.version+1)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (s *snapshot) applyVersion(st Storage, v int64) error {
	data, err := st.Read(logName(v))
	if err != nil {
		return err
	}
	acts, err := parseEntry(data)
	if err != nil {
		return fmt.Errorf("%s: %w", logName(v), err)
	}
	s.apply(acts)
	s.version = v
	return nil
}

// The table features this writer supports ("Table Features"): appending
// plain data files keeps them all true.
var (
	writerFeaturesOK = map[string]bool{"appendOnly": true, "invariants": true, "changeDataFeed": true,
		"deletionVectors": true, "timestampNtz": true, "domainMetadata": true, "checkConstraints": true, "vacuumProtocolCheck": true}
	readerFeaturesOK = map[string]bool{"deletionVectors": true, "timestampNtz": true, "vacuumProtocolCheck": true}
)

// checkWritable refuses a table this writer could corrupt: protocol
// versions or features it does not implement, partitions, column
// mapping, generated or identity columns, invariants, CHECK constraints.
func checkWritable(s *snapshot) error {
	p := s.protocol
	if p == nil {
		return errors.New("the log has no protocol action")
	}
	if s.meta == nil {
		return errors.New("the log has no metaData action")
	}
	if p.MinReaderVersion > 3 || p.MinWriterVersion > 7 {
		return fmt.Errorf("the table needs reader version %d and writer version %d; Sluice writes up to reader 3, writer 7", p.MinReaderVersion, p.MinWriterVersion)
	}
	for _, f := range p.ReaderFeatures {
		if !readerFeaturesOK[f] {
			return fmt.Errorf("the table uses the reader feature %s, which Sluice does not support", f)
		}
	}
	for _, f := range p.WriterFeatures {
		if !writerFeaturesOK[f] {
			return fmt.Errorf("the table uses the writer feature %s, which Sluice does not support", f)
		}
	}
	if len(s.meta.PartitionColumns) > 0 {
		return fmt.Errorf("the table is partitioned by %s: Sluice writes unpartitioned tables only", strings.Join(s.meta.PartitionColumns, ", "))
	}
	if s.meta.Format.Provider != "parquet" {
		return fmt.Errorf("the table's files are %q, not parquet", s.meta.Format.Provider)
	}
	for k, v := range s.meta.Configuration {
		switch {
		case k == "delta.columnMapping.mode" && v != "none":
			return fmt.Errorf("the table uses column mapping (%s = %s), which Sluice does not write", k, v)
		case strings.HasPrefix(k, "delta.constraints."):
			return fmt.Errorf("the table has the CHECK constraint %s, which Sluice does not enforce", strings.TrimPrefix(k, "delta.constraints."))
		case k == "delta.enableRowTracking" && v == "true":
			return errors.New("the table tracks rows (delta.enableRowTracking), which Sluice does not write")
		}
	}
	for _, key := range []string{"delta.invariants", "delta.generationExpression", "delta.identity.start"} {
		if strings.Contains(s.meta.SchemaString, `"`+key+`"`) {
			return fmt.Errorf("the table's schema has %s, which Sluice does not enforce", key)
		}
	}
	return nil
}
