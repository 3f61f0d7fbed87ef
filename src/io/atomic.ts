/** Atomic file writes (temp file + rename). One implementation, shared with the data readers. */
export { writeFileAtomic } from '../data/readers/files.js';
