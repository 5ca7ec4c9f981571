package bitscale

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// A BatchJournal records what RunBatch does with each row before it does
// it, so that a batch run again after a crash, even a SIGKILL or a power
// cut, never sends a row that may have run, and never loses a result: give
// the rerun the same rows and the same journal, or one reopened from the
// same storage.
//
// RunBatch calls Record from several goroutines at once. Record must store
// the entry durably before it returns: a row's run is sent only once its
// JournalSending entry is stored, and a row whose entry cannot be stored
// is not sent. Last returns the latest entry stored for a row.
//
// JournalFile keeps a journal in a file; a table keyed by row suits a
// service that keeps its batches in a database.
type BatchJournal interface {
	Last(row int) (JournalEntry, bool)
	Record(e JournalEntry) error
}

// JournalState is how far a row had got when its journal entry was
// recorded.
type JournalState string

// The states of a journal entry.
const (
	// JournalSending: the row's run request is about to be sent, and may
	// have reached the API.
	JournalSending JournalState = "sending"
	// JournalAccepted: the API accepted the row's async run, or answered
	// its sync run before the run ended; RunID is set.
	JournalAccepted JournalState = "accepted"
	// JournalEnded: the row ended; Outcome says how.
	JournalEnded JournalState = "ended"
)

// JournalEntry is one record of a BatchJournal.
type JournalEntry struct {
	Row   int          `json:"row"`   // the row's index in the batch
	Key   string       `json:"key"`   // the grid and the row's request, hashed
	State JournalState `json:"state"` //
	RunID string       `json:"run_id,omitempty"`

	// WebhookRef is the ref added to the webhook URL of a row whose result
	// goes to a webhook (Run.WebhookRef), recorded before it is sent.
	WebhookRef string `json:"webhook_ref,omitempty"`

	// With JournalEnded, how the row ended.
	Outcome Outcome `json:"outcome,omitempty"`
	Run     *Run    `json:"run,omitempty"`
	Credits int     `json:"credits,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// ErrJournalMismatch is matched by the error of a batch whose journal
// recorded a row with other inputs, or for another grid, than the row given
// now: the journal belongs to another batch, and trusting it could send a
// row that ran or skip one that did not.
var ErrJournalMismatch = errors.New("bitscale: the journal records other rows than the batch's")

// journalKey fingerprints a row's request to a grid, so that a journal is
// never applied to other rows than those it recorded. json.Marshal sorts
// map keys, so equal requests give equal keys.
func journalKey(gridID string, req *RunRequest) (string, error) {
	b, err := json.Marshal(struct {
		Grid    string         `json:"grid"`
		Inputs  map[string]any `json:"inputs"`
		Outputs []string       `json:"outputs,omitempty"`
	}{gridID, req.Inputs, req.OutputColumns})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// JournalFile is a BatchJournal kept in a file of JSON lines, one entry a
// line, appended to and synced to stable storage before Record returns. It
// is safe for concurrent use.
//
// It keeps in memory only where each row's last entry starts in the file,
// 8 bytes a row, and reads the entry back when Last asks for it, so that a
// journal of millions of rows, outputs and all, opens in little memory.
// Entries recorded at once by several goroutines share one sync.
type JournalFile struct {
	mu   sync.Mutex
	f    *os.File
	path string
	rows rowOffsets
	size int64 // where the next line goes
	err  error // the first failed write or sync: the file may be behind the batch

	// Group commit: lines written are numbered, and Record returns once a
	// sync that began after its line was written has ended.
	written, synced uint64
	syncing         bool
	syncEnded       *sync.Cond // signalled when a sync ends
}

// OpenJournalFile opens the journal at path, creating it if it does not
// exist, and reads what it holds. A last line cut short by a crash while
// it was being written is dropped: its row's entry before it stands, which
// is what was true when the crash came. It returns an error when the file
// cannot be opened or holds a line that is not an entry elsewhere than at
// its end.
//
// The file is locked while it is open, where the system allows (Linux, the
// BSDs, macOS): two batches given one journal would each send the rows the
// other is sending, so a second open fails with ErrJournalLocked until the
// first is closed.
func OpenJournalFile(path string) (*JournalFile, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%w: %s", ErrJournalLocked, path)
		}
		return nil, fmt.Errorf("bitscale: locking journal %s: %w", path, err)
	}
	if errors.Is(statErr, os.ErrNotExist) {
		// The file's entry in its directory must last as its lines do.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("bitscale: journal %s: %w", path, err)
		}
	}
	j := &JournalFile{f: f, path: path}
	j.syncEnded = sync.NewCond(&j.mu)
	if err := j.load(); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// errLocked is lockFile's error for a lock another open file holds.
var errLocked = errors.New("held by another open file")

// ErrJournalLocked is matched by the error of OpenJournalFile for a
// journal another JournalFile, in this process or another, has open.
var ErrJournalLocked = errors.New("bitscale: the journal is in use by another batch")

// syncDir syncs a directory, so that a file created in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}

// load indexes the entries, truncates a torn last line, and leaves the
// file positioned at its end for appending.
func (j *JournalFile) load() error {
	r := bufio.NewReaderSize(j.f, 64<<10)
	var good int64 // bytes of whole lines read
	for n := 1; ; n++ {
		line, err := readLine(r)
		if err == io.EOF {
			break // a line without its end, if any, was cut short
		}
		if err != nil {
			return fmt.Errorf("bitscale: reading journal %s: %w", j.path, err)
		}
		start := good
		good += int64(len(line))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		// Only what places the entry is decoded; the rest is checked to be
		// JSON, and read again when Last asks for it.
		var e struct {
			Row   int          `json:"row"`
			Key   string       `json:"key"`
			State JournalState `json:"state"`
		}
		if err := json.Unmarshal(line, &e); err != nil || e.State == "" || e.Key == "" {
			return fmt.Errorf("bitscale: journal %s, line %d: not a journal entry", j.path, n)
		}
		j.rows.set(e.Row, start)
	}
	// Appends go to the end of the file, so what is cut short must go.
	if err := j.f.Truncate(good); err != nil {
		return fmt.Errorf("bitscale: journal %s: %w", j.path, err)
	}
	j.size = good
	return nil
}

// readLine returns the next line of r with its end, reading a long line
// whole. At the end of r it returns io.EOF, with or without a line cut
// short.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := bytes.Clone(line)
		for err == bufio.ErrBufferFull {
			line, err = r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	return line, err
}

// Last returns the latest entry recorded for row, read back from the file.
// If the file cannot be read, it returns an entry without a Key, whose
// Error says why: a batch given it stops rather than send the row, which
// may have run.
func (j *JournalFile) Last(row int) (JournalEntry, bool) {
	j.mu.Lock()
	off, ok := j.rows.get(row)
	j.mu.Unlock()
	if !ok {
		return JournalEntry{}, false
	}
	e, err := j.entryAt(off)
	if err != nil {
		return JournalEntry{Row: row, State: JournalSending,
			Error: fmt.Sprintf("bitscale: reading journal %s: %v", j.path, err)}, true
	}
	return e, true
}

// entryAt reads the entry whose line starts at off. Lines are only ever
// appended, so one indexed is whole and never changes.
func (j *JournalFile) entryAt(off int64) (JournalEntry, error) {
	buf := make([]byte, 1024)
	n := 0
	for {
		m, err := j.f.ReadAt(buf[n:], off+int64(n))
		n += m
		if i := bytes.IndexByte(buf[n-m:n], '\n'); i >= 0 {
			n = n - m + i
			break
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return JournalEntry{}, err
		}
		buf = append(buf, make([]byte, len(buf))...)
	}
	var e JournalEntry
	// unmarshal, as answers are decoded: a run's outputs may hold a
	// number too large for a float64.
	if err := unmarshal(buf[:n], &e); err != nil {
		return JournalEntry{}, err
	}
	return e, nil
}

// Len returns how many rows the journal has entries for.
func (j *JournalFile) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rows.n
}

// Record appends e as one line and syncs the file before returning. After
// a failed write or sync every Record fails: a line may have been written
// in part, or not be on stable storage.
func (j *JournalFile) Record(e JournalEntry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("bitscale: journal entry for row %d: %w", e.Row, err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return j.err
	}
	if _, err := j.f.Write(line); err != nil {
		j.err = fmt.Errorf("bitscale: writing journal %s: %w", j.path, err)
		return j.err
	}
	off := j.size
	j.size += int64(len(line))
	j.written++
	if err := j.syncThrough(j.written); err != nil {
		return err
	}
	j.rows.set(e.Row, off)
	return nil
}

// syncThrough returns once the lines up to the nth written are on stable
// storage. One goroutine syncs at a time, with j.mu released; lines
// written meanwhile wait for the next sync, which covers them all at once.
func (j *JournalFile) syncThrough(n uint64) error {
	for j.synced < n {
		if j.err != nil {
			return j.err
		}
		if j.syncing {
			j.syncEnded.Wait()
			continue
		}
		j.syncing = true
		through := j.written
		j.mu.Unlock()
		err := j.f.Sync()
		j.mu.Lock()
		j.syncing = false
		if err != nil && j.err == nil {
			j.err = fmt.Errorf("bitscale: syncing journal %s: %w", j.path, err)
		}
		if err == nil {
			j.synced = through
		}
		j.syncEnded.Broadcast()
	}
	return nil
}

// Close closes the file, which releases its lock.
func (j *JournalFile) Close() error { return j.f.Close() }

// rowOffsets maps rows to where their last entry starts in the file: pages
// of a slice for rows from 0 up, as a batch numbers them, and a map for
// rows far from the others.
type rowOffsets struct {
	pages [][]int64 // offset+1 by row; 0 for none
	far   map[int]int64
	n     int // rows with an entry
}

const rowPage = 4096

func (o *rowOffsets) get(row int) (int64, bool) {
	if p := row / rowPage; row >= 0 && p < len(o.pages) && o.pages[p] != nil {
		if off := o.pages[p][row%rowPage]; off != 0 {
			return off - 1, true
		}
	}
	off, ok := o.far[row] // set before the pages reached it
	return off, ok
}

func (o *rowOffsets) set(row int, off int64) {
	p := row / rowPage
	// Pages for rows up to about twice the rows seen: a row numbered far
	// beyond, or below 0, goes to the map instead of a run of empty pages.
	if row >= 0 && p >= len(o.pages) && p <= 2*len(o.pages)+16 {
		o.pages = append(o.pages, make([][]int64, p+1-len(o.pages))...)
	}
	if row < 0 || p >= len(o.pages) {
		if _, ok := o.far[row]; !ok {
			o.n++
		}
		if o.far == nil {
			o.far = make(map[int]int64)
		}
		o.far[row] = off
		return
	}
	if o.pages[p] == nil {
		o.pages[p] = make([]int64, rowPage)
	}
	if _, ok := o.far[row]; ok {
		delete(o.far, row)
		o.n--
	}
	if o.pages[p][row%rowPage] == 0 {
		o.n++
	}
	o.pages[p][row%rowPage] = off + 1
}
