#include <recmix/version.hpp>

#include <iostream>

int main() {
    std::cout << "placeholder (recmix " << recmix::version_string << ")\n";
    return 0;
}
