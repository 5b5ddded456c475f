// Inline icons (no icon font, no requests). Decorative: the control around them carries the label.
const common = { 'aria-hidden': true, focusable: false, fill: 'none', stroke: 'currentColor', strokeWidth: 1.8, strokeLinecap: 'round', strokeLinejoin: 'round' } as const;

export function GavelMark() {
  return (
    <svg viewBox="0 0 64 64" aria-hidden="true" focusable="false">
      <rect width="64" height="64" rx="14" fill="#c9a24a" />
      <g fill="#141a26">
        <rect x="14" y="16" width="26" height="12" rx="3" transform="rotate(-35 27 22)" />
        <rect x="29" y="25" width="6" height="26" rx="3" transform="rotate(-35 32 38)" />
        <rect x="12" y="48" width="30" height="6" rx="3" />
      </g>
    </svg>
  );
}

export function BellIcon() {
  return (
    <svg viewBox="0 0 24 24" {...common}>
      <path d="M6 8a6 6 0 1 1 12 0c0 7 3 9 3 9H3s3-2 3-9" />
      <path d="M10.3 21a1.9 1.9 0 0 0 3.4 0" />
    </svg>
  );
}

export function MenuIcon() {
  return (
    <svg viewBox="0 0 24 24" {...common}>
      <path d="M4 6h16M4 12h16M4 18h16" />
    </svg>
  );
}

export function UserIcon() {
  return (
    <svg viewBox="0 0 24 24" {...common}>
      <circle cx="12" cy="8" r="4" />
      <path d="M4 21c1.5-4 4.5-6 8-6s6.5 2 8 6" />
    </svg>
  );
}
