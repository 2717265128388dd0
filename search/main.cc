#include <iostream>

int main() { std::cout << "nasforge\n"; return 0; }
