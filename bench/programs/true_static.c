/* A static /bin/true for the spawn benchmark: exits 0 at once. */
int main(void) { return 0; }
