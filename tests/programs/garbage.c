/* Jumps to an address with nothing mapped: the guest must die with SIGSEGV. */
int main(void)
{
    void (*f)(void) = (void (*)(void))0x123456789a0UL;
    f();
    return 0;
}
