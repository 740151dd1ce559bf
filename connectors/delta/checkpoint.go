package delta

// Checkpoints of the log (PROTOCOL.md, "Checkpoints" and "Checkpoint
// Schema"): a Parquet file with one action per row (txn, add, remove,
// metaData, protocol, each a struct column, only one non-null per row)
// holding the reconciled state at a version, and _last_checkpoint naming
// it, so that a reader starts there instead of replaying every entry.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"

	"github.com/parquet-go/parquet-go"
)

type ckptRow struct {
	Txn      *ckptTxn      `parquet:"txn,optional"`
	Add      *ckptAdd      `parquet:"add,optional"`
	Remove   *ckptRemove   `parquet:"remove,optional"`
	MetaData *ckptMeta     `parquet:"metaData,optional"`
	Protocol *ckptProtocol `parquet:"protocol,optional"`
}

type ckptTxn struct {
	AppID       string `parquet:"appId"`
	Version     int64  `parquet:"version"`
	LastUpdated *int64 `parquet:"lastUpdated,optional"`
}

type ckptAdd struct {
	Path             string            `parquet:"path"`
	PartitionValues  map[string]string `parquet:"partitionValues"`
	Size             int64             `parquet:"size"`
	ModificationTime int64             `parquet:"modificationTime"`
	DataChange       bool              `parquet:"dataChange"`
	Stats            *string           `parquet:"stats,optional"`
	Tags             map[string]string `parquet:"tags,optional"`
}

type ckptRemove struct {
	Path              string `parquet:"path"`
	DeletionTimestamp *int64 `parquet:"deletionTimestamp,optional"`
	DataChange        bool   `parquet:"dataChange"`
}

type ckptFormat struct {
	Provider string            `parquet:"provider"`
	Options  map[string]string `parquet:"options,optional"`
}

type ckptMeta struct {
	ID               string            `parquet:"id"`
	Name             *string           `parquet:"name,optional"`
	Description      *string           `parquet:"description,optional"`
	Format           ckptFormat        `parquet:"format"`
	SchemaString     string            `parquet:"schemaString"`
	PartitionColumns []string          `parquet:"partitionColumns,list"`
	Configuration    map[string]string `parquet:"configuration,optional"`
	CreatedTime      *int64            `parquet:"createdTime,optional"`
}

type ckptProtocol struct {
	MinReaderVersion int32    `parquet:"minReaderVersion"`
	MinWriterVersion int32    `parquet:"minWriterVersion"`
	ReaderFeatures   []string `parquet:"readerFeatures,optional,list"`
	WriterFeatures   []string `parquet:"writerFeatures,optional,list"`
}

// writeCheckpoint stores the checkpoint of s (at s.version) and then
// _last_checkpoint. A crash between the two leaves the previous
// _last_checkpoint, which stays valid.
func writeCheckpoint(st Storage, s *snapshot) error {
	var rows []ckptRow
	p := s.protocol
	rows = append(rows, ckptRow{Protocol: &ckptProtocol{MinReaderVersion: int32(p.MinReaderVersion), MinWriterVersion: int32(p.MinWriterVersion), ReaderFeatures: p.ReaderFeatures, WriterFeatures: p.WriterFeatures}})
	m := s.meta
	rows = append(rows, ckptRow{MetaData: &ckptMeta{ID: m.ID, Name: m.Name, Description: m.Description,
		Format:       ckptFormat{Provider: m.Format.Provider, Options: m.Format.Options},
		SchemaString: m.SchemaString, PartitionColumns: nonNil(m.PartitionColumns), Configuration: m.Configuration, CreatedTime: m.CreatedTime}})
	for _, app := range slices.Sorted(maps.Keys(s.txns)) {
		rows = append(rows, ckptRow{Txn: &ckptTxn{AppID: app, Version: s.txns[app]}})
	}
	for _, name := range slices.Sorted(maps.Keys(s.files)) {
		a := s.files[name]
		c := &ckptAdd{Path: a.Path, PartitionValues: nonNilMap(a.PartitionValues), Size: a.Size, ModificationTime: a.ModificationTime, DataChange: false, Tags: a.Tags}
		if a.Stats != "" {
			stats := a.Stats
			c.Stats = &stats
		}
		rows = append(rows, ckptRow{Add: c})
	}
	// Tombstones ("remove" actions) are kept so that a VACUUM by another
	// engine knows which files were removed when.
	for _, name := range slices.Sorted(maps.Keys(s.removed)) {
		r := s.removed[name]
		rows = append(rows, ckptRow{Remove: &ckptRemove{Path: r.Path, DeletionTimestamp: r.DeletionTimestamp, DataChange: false}})
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[ckptRow](&buf, parquet.Compression(&parquet.Snappy))
	if _, err := w.Write(rows); err != nil {
		return fmt.Errorf("checkpoint %d: %w", s.version, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("checkpoint %d: %w", s.version, err)
	}
	if err := st.Put(checkpointName(s.version), buf.Bytes()); err != nil {
		return fmt.Errorf("checkpoint %d: %w", s.version, err)
	}
	lc, _ := json.Marshal(lastCheckpoint{Version: s.version, Size: int64(len(rows))})
	if err := st.Put(path.Join(logDir, "_last_checkpoint"), lc); err != nil {
		return fmt.Errorf("checkpoint %d: _last_checkpoint: %w", s.version, err)
	}
	s.checkpoint = s.version
	return nil
}

// readCheckpoint loads the checkpoint at version v into s.
func readCheckpoint(st Storage, v int64, s *snapshot) error {
	name := checkpointName(v)
	data, err := st.Read(name)
	if err != nil {
		return fmt.Errorf("read checkpoint: %w", err)
	}
	r := parquet.NewGenericReader[ckptRow](bytes.NewReader(data))
	defer r.Close()
	rows := make([]ckptRow, r.NumRows())
	n, err := r.Read(rows)
	if err != nil && n != len(rows) {
		return fmt.Errorf("read %s: %w", name, err)
	}
	for _, row := range rows[:n] {
		switch {
		case row.Protocol != nil:
			p := row.Protocol
			s.protocol = &protocol{MinReaderVersion: int(p.MinReaderVersion), MinWriterVersion: int(p.MinWriterVersion), ReaderFeatures: p.ReaderFeatures, WriterFeatures: p.WriterFeatures}
		case row.MetaData != nil:
			m := row.MetaData
			s.meta = &metaData{ID: m.ID, Name: m.Name, Description: m.Description, Format: format{Provider: m.Format.Provider, Options: nonNilMap(m.Format.Options)},
				SchemaString: m.SchemaString, PartitionColumns: nonNil(m.PartitionColumns), Configuration: nonNilMap(m.Configuration), CreatedTime: m.CreatedTime}
		case row.Txn != nil:
			s.txns[row.Txn.AppID] = row.Txn.Version
		case row.Add != nil:
			a := row.Add
			f := &addFile{Path: a.Path, PartitionValues: nonNilMap(a.PartitionValues), Size: a.Size, ModificationTime: a.ModificationTime, DataChange: a.DataChange, Tags: a.Tags}
			if a.Stats != nil {
				f.Stats = *a.Stats
			}
			s.files[a.Path] = f
		case row.Remove != nil:
			s.removed[row.Remove.Path] = &removeFile{Path: row.Remove.Path, DeletionTimestamp: row.Remove.DeletionTimestamp}
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
