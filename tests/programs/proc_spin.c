/* Spins in user mode forever without making a system call. */
int main(void)
{
    volatile unsigned long n = 0;
    for (;;)
        n++;
}
