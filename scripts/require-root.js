// Exits with a clear message when the end-to-end tests are run without root.
if (process.getuid?.() !== 0) {
  console.error('the end-to-end tests need root (they create network namespaces): run them as root');
  process.exit(1);
}
