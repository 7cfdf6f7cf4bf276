package main

import (
	"fmt"
	"math/big"
	"net"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/gocty"
)

// The cidr* functions, with the semantics of go-cty-funcs/cidr (as in
// Terraform): addresses are numbers, a subnet number is placed right after
// the parent prefix, a negative host number counts from the end.

func parsePrefix(s string) (*net.IPNet, int, error) {
	_, network, err := net.ParseCIDR(s)
	if err != nil {
		return nil, 0, fmt.Errorf("invalid CIDR expression: %s", err)
	}
	bits := 32
	if network.IP.To4() == nil {
		bits = 128
	} else {
		network.IP = network.IP.To4()
	}
	return network, bits, nil
}

func ipInt(ip net.IP) *big.Int { return new(big.Int).SetBytes(ip) }

func intIP(n *big.Int, bits int) net.IP {
	b := n.Bytes()
	ip := make(net.IP, bits/8)
	copy(ip[len(ip)-len(b):], b)
	return ip
}

func cidrArgs(args []cty.Value, rest ...*int) (*net.IPNet, int, error) {
	network, bits, err := parsePrefix(args[0].AsString())
	if err != nil {
		return nil, 0, err
	}
	for i, r := range rest {
		if err := gocty.FromCtyValue(args[i+1], r); err != nil {
			return nil, 0, err
		}
	}
	return network, bits, nil
}

var cidrHostFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "prefix", Type: cty.String}, {Name: "hostnum", Type: cty.Number}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var hostNum int
		network, bits, err := cidrArgs(args, &hostNum)
		if err != nil {
			return cty.UnknownVal(cty.String), err
		}
		parentLen, _ := network.Mask.Size()
		max := new(big.Int).Lsh(big.NewInt(1), uint(bits-parentLen))
		num := big.NewInt(int64(hostNum))
		if num.Sign() < 0 {
			num.Add(num, max)
		}
		if num.Sign() < 0 || num.Cmp(max) >= 0 {
			return cty.UnknownVal(cty.String), fmt.Errorf("prefix of %d does not accommodate a host numbered %d", parentLen, hostNum)
		}
		return cty.StringVal(intIP(num.Add(num, ipInt(network.IP)), bits).String()), nil
	},
})

var cidrNetmaskFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "prefix", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		network, _, err := cidrArgs(args)
		if err != nil {
			return cty.UnknownVal(cty.String), err
		}
		return cty.StringVal(net.IP(network.Mask).String()), nil
	},
})

func subnet(network *net.IPNet, bits, newBits, num int) (*net.IPNet, error) {
	parentLen, _ := network.Mask.Size()
	newLen := parentLen + newBits
	if newLen > bits {
		return nil, fmt.Errorf("insufficient address space to extend prefix of %d by %d", parentLen, newBits)
	}
	if num < 0 || big.NewInt(int64(num)).Cmp(new(big.Int).Lsh(big.NewInt(1), uint(newBits))) >= 0 {
		return nil, fmt.Errorf("prefix extension of %d does not accommodate a subnet numbered %d", newBits, num)
	}
	n := new(big.Int).Lsh(big.NewInt(int64(num)), uint(bits-newLen))
	return &net.IPNet{IP: intIP(n.Add(n, ipInt(network.IP)), bits), Mask: net.CIDRMask(newLen, bits)}, nil
}

var cidrSubnetFunc = function.New(&function.Spec{
	Params: []function.Parameter{
		{Name: "prefix", Type: cty.String}, {Name: "newbits", Type: cty.Number}, {Name: "netnum", Type: cty.Number},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		var newBits, netNum int
		network, bits, err := cidrArgs(args, &newBits, &netNum)
		if err != nil {
			return cty.UnknownVal(cty.String), err
		}
		if newBits > 32 {
			return cty.UnknownVal(cty.String), fmt.Errorf("may not extend prefix by more than 32 bits")
		}
		sub, err := subnet(network, bits, newBits, netNum)
		if err != nil {
			return cty.UnknownVal(cty.String), err
		}
		return cty.StringVal(sub.String()), nil
	},
})

// cidrSubnets allocates consecutive subnets, each aligned to its own size.
var cidrSubnetsFunc = function.New(&function.Spec{
	Params:   []function.Parameter{{Name: "prefix", Type: cty.String}},
	VarParam: &function.Parameter{Name: "newbits", Type: cty.Number},
	Type:     function.StaticReturnType(cty.List(cty.String)),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		network, bits, err := parsePrefix(args[0].AsString())
		if err != nil {
			return cty.UnknownVal(cty.List(cty.String)), err
		}
		if len(args) == 1 {
			return cty.ListValEmpty(cty.String), nil
		}
		parentLen, _ := network.Mask.Size()
		start := ipInt(network.IP)
		end := new(big.Int).Add(start, new(big.Int).Lsh(big.NewInt(1), uint(bits-parentLen)))
		next := new(big.Int).Set(start)
		out := make([]cty.Value, 0, len(args)-1)
		for _, arg := range args[1:] {
			var newBits int
			if err := gocty.FromCtyValue(arg, &newBits); err != nil {
				return cty.UnknownVal(cty.List(cty.String)), err
			}
			length := parentLen + newBits
			if newBits < 1 || length > bits {
				return cty.UnknownVal(cty.List(cty.String)), fmt.Errorf("would extend prefix to %d bits, which is too long for an IPv%d address", length, map[int]int{32: 4, 128: 6}[bits])
			}
			size := new(big.Int).Lsh(big.NewInt(1), uint(bits-length))
			// align up to this subnet's size
			rem := new(big.Int).Mod(new(big.Int).Sub(next, start), size)
			if rem.Sign() != 0 {
				next.Add(next, new(big.Int).Sub(size, rem))
			}
			if new(big.Int).Add(next, size).Cmp(end) > 0 {
				return cty.UnknownVal(cty.List(cty.String)), fmt.Errorf("not enough remaining address space for a subnet with a prefix of %d bits after %s", length, out[len(out)-1].AsString())
			}
			sub := &net.IPNet{IP: intIP(next, bits), Mask: net.CIDRMask(length, bits)}
			out = append(out, cty.StringVal(sub.String()))
			next.Add(next, size)
		}
		return cty.ListVal(out), nil
	},
})
