/** Flag values that may repeat and may each be comma-separated (`--arch a,b --arch c`), as one list. */
export const list = (v: string[] | undefined): string[] => (v ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
