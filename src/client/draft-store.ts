/** The part of the Web Storage API the draft store needs (localStorage, sessionStorage, or a test's own). */
export interface DraftStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface DraftStoreOptions {
  /** Storage key, e.g. `loan-case-draft`. */
  key: string;
  /** Default `globalThis.localStorage`. */
  storage?: DraftStorage;
}

export interface Draft<T> {
  value: T;
  /** When it was last kept (ISO 8601). */
  savedAt: string;
}

export interface DraftStore<T> {
  /** Keeps `value`, replacing the previous draft; call on every change. False when storage refused (full or disabled). */
  save(value: T): boolean;
  /** The draft left in storage (after a crash, a closed tab or a restart), or null. */
  pending(): Draft<T> | null;
  /** Forgets the draft; call once the server has the case. */
  clear(): void;
}

/**
 * Keeps the user's unsaved case in local storage, so that neither a backend loss nor a
 * browser crash loses typing. Never throws: a full or disabled storage, or a draft that
 * cannot be read back, only means there is nothing to recover.
 */
export function createDraftStore<T>(options: DraftStoreOptions): DraftStore<T> {
  const { key } = options;
  const storage = (): DraftStorage | undefined => options.storage ?? (globalThis as { localStorage?: DraftStorage }).localStorage;
  return {
    save(value) {
      try {
        storage()?.setItem(key, JSON.stringify({ value, savedAt: new Date().toISOString() }));
        return storage() !== undefined;
      } catch {
        return false;
      }
    },
    pending() {
      try {
        const text = storage()?.getItem(key);
        if (!text) return null;
        const draft = JSON.parse(text) as Draft<T>;
        return draft && typeof draft === 'object' && 'value' in draft && typeof draft.savedAt === 'string' ? draft : null;
      } catch {
        return null;
      }
    },
    clear() {
      try {
        storage()?.removeItem(key);
      } catch {
        // Nothing to do: a storage that cannot be written holds no draft of ours either.
      }
    },
  };
}
