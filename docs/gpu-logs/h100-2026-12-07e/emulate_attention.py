# Functional emulation of TensorCoreAttention.attention (747bfaf) in float64 with F16 rounding: every lane and barrier
# phase of the SIMT code, mma.sync through its tile layouts (ldmatrix A: 16 rows of 8 pairs; B: 16 k-rows of 4 pairs;
# mmaStore: the m16n8 C layout). Checked against a float64 attention before the first GPU run: python3 emulate_attention.py
import numpy as np, sys
THREADS=128; QUERIES=64; KEYS=64; COLUMNS=64; MAX_HEAD=160; NARROW_HEAD=96; TILE_FLOATS=4096; SLACK=8.0
BLOCK_INTS=512; VP_INTS=2048; TILES_INTS=max(2*32*NARROW_HEAD+2*VP_INTS, 2*32*MAX_HEAD)
MASKED=-1e30
def h16(x): return int(np.array(x,dtype=np.float32).astype(np.float16).view(np.uint16))
def hval(b): return float(np.array(b&0xFFFF,dtype=np.uint16).view(np.float16))
def pair(lo,hi): return (lo&0xFFFF)|((hi&0xFFFF)<<16)
def loadA(tiles,off):  # 16x16
    base=off//4; A=np.zeros((16,16))
    for m in range(16):
        for kk in range(16):
            w=tiles[base+m*8+kk//2]; A[m,kk]=hval(w>>(16*(kk%2)))
    return A
def loadB(tiles,off):  # 16x8
    base=off//4; B=np.zeros((16,8))
    for kk in range(16):
        for n in range(8):
            w=tiles[base+kk*4+n//2]; B[kk,n]=hval(w>>(16*(n%2)))
    return B
def store(frag,arr,tileRow,tileCol,dimN):
    for m in range(16):
        for n in range(8): arr[(tileRow+m)*dimN+tileCol+n]=np.float32(frag[m,n])
def kslot(it):
    within=it&511; rest=within>>4; return (it&~511)+(rest>>2)*64+(within&15)*4+(rest&3)
def pairOf(x,g,rowOk,c,n):
    in0=rowOk and c<n; in1=rowOk and c+1<n
    lo=h16(x[g]) if in0 else 0; hi=h16(x[g+1]) if in1 else 0; return pair(lo,hi)
def keyPair(k,kBase,it,k0,nk,stride,d):
    within=it&511; c=((it>>9)<<4)+(within&15); j=k0+((within>>4)<<1)
    c0=c<d; in0=c0 and j<nk; in1=c0 and j+1<nk; g=kBase+j*stride+c
    return pair(h16(k[g]) if in0 else 0, h16(k[g+stride]) if in1 else 0)
def vcp(u): return (u&7)|(((u>>5)&3)<<3)
def vkey(u): return ((u>>3)&3)|((u>>7)<<2)
def vslot(u):
    cp=vcp(u);kk=vkey(u); return (kk>>4)*BLOCK_INTS+(cp>>2)*64+((kk&15)<<2)+(cp&3)
def vpair(v,vBase,u,k0,nk,stride,width):
    j=k0+vkey(u); c=vcp(u)<<1; return pairOf(v,vBase+j*stride+c,j<nk,c,width)
def score(scr,at,key,nk,query,causal,scale):
    ok=(key<nk) and (causal==0 or key<=query); return float(np.float32(scr[at])*np.float32(scale)) if ok else MASKED
def weight(s,m): return float(np.exp(np.float32(s-m))) if s>MASKED else 0.0

def run(q,k,v,B,nq,nk,heads,d,dv,scale,causal):
    dp=(d+15)//16*16; qBlocks=(nq+63)//64; bhCount=B*heads; chunks=(dv+63)//64
    out=np.full(B*nq*heads*dv,np.nan,dtype=np.float32)
    scratch=np.full(qBlocks*bhCount*chunks*TILE_FLOATS,np.nan,dtype=np.float32)
    for gz in range(chunks):
     for gy in range(bhCount):
      for gx in range(qBlocks):
        cta(q,k,v,out,scratch,nq,nk,heads,d,dv,dp,qBlocks,bhCount,gx,gy,gz,scale,causal)
    return out
def cta(q,k,v,out,scratch,nq,nk,heads,d,dv,dp,qBlocks,bhCount,gx,gy,gz,scale,causal):
    q0=gx*QUERIES; bh=gy; chunk=gz; b=bh//heads; h=bh-b*heads
    qStride=heads*d; vStride=heads*dv; width=dv-chunk*COLUMNS
    qBase=b*nq*qStride+h*d; kBase=b*nk*qStride+h*d; vBase=b*nk*vStride+h*dv+chunk*COLUMNS
    block=(chunk*bhCount+bh)*qBlocks+gx; sBase=block*TILE_FLOATS
    kPairs=dp*32; kEnd=min(nk,q0+QUERIES) if causal else nk
    wide=dp>NARROW_HEAD; kTile=kPairs; vTile=kTile if wide else kTile+kPairs; pTile=vTile+VP_INTS
    subTiles=min(8,(width+7)>>3)
    tiles=[0x7E00FE00]*TILES_INTS  # NaN halves
    stats=[float('nan')]*(4*THREADS); rose=[0,0,0,0]
    T=range(THREADS)
    def th(tid):
        warp=tid>>5; lane=tid&31; r=lane>>2; c2=(lane&3)<<1; rowLo=warp*16+r
        sWarp=sBase+warp*16*KEYS; sLo=sWarp+r*8+c2
        return dict(warp=warp,lane=lane,r=r,c2=c2,rowLo=rowLo,queryLo=q0+rowLo,queryHi=q0+rowLo+8,sWarp=sWarp,sLo=sLo,sHi=sLo+64,sRow=sWarp>>3,
                    pLo=pTile+rowLo*8+(lane&3),pHi=pTile+rowLo*8+(lane&3)+64,quad=tid&~3,tileRow=block*QUERIES+warp*16)
    TH=[th(t) for t in T]
    for tid in T:
        for idx in range(tid,kPairs,THREADS):
            within=idx&511; qi=q0+(within>>3); c=((idx>>9)<<4)+((within&7)<<1)
            tiles[idx]=pairOf(q,qBase+qi*qStride+c,qi<nq,c,d)
    shift=[[0.0,0.0] for _ in T]; passes=1; p_=0
    while p_<passes:
        O=[np.zeros((16,64)) for _ in range(4)]
        seen=[[MASKED,MASKED] for _ in T]; sums=[[0.0,0.0] for _ in T]
        for k0 in range(0,kEnd,KEYS):
            for tid in T:
                for it in range(tid,kPairs,2*THREADS):
                    tiles[kTile+kslot(it)]=keyPair(k,kBase,it,k0,nk,qStride,d)
                    tiles[kTile+kslot(it+THREADS)]=keyPair(k,kBase,it+THREADS,k0,nk,qStride,d)
                if not wide:
                    for u in range(tid,VP_INTS,THREADS):
                        if (vcp(u)>>2)<subTiles: tiles[vTile+vslot(u)]=vpair(v,vBase,u,k0,nk,vStride,width)
            for w in range(4):
                S=[np.zeros((16,8)) for _ in range(8)]
                for kb in range(0,dp,16):
                    bOff=(kTile<<2)+kb*128; A=loadA(tiles,kb*128+w*512)
                    for n in range(8): S[n]=S[n]+A@loadB(tiles,bOff+256*n)
                sRow=TH[w*32]['sRow']
                for n in range(8): store(S[n],scratch,sRow+16*n,0,8)
            if p_==0 and k0==0:
                for tid in T:
                    t=TH[tid]; key0=k0+t['c2']; fl=MASKED; fh=MASKED
                    for j in range(8):
                        at=j*128; key=key0+8*j
                        fl=max(fl,score(scratch,t['sLo']+at,key,nk,t['queryLo'],causal,scale),score(scratch,t['sLo']+at+1,key+1,nk,t['queryLo'],causal,scale))
                        fh=max(fh,score(scratch,t['sHi']+at,key,nk,t['queryHi'],causal,scale),score(scratch,t['sHi']+at+1,key+1,nk,t['queryHi'],causal,scale))
                    stats[2*tid]=fl; stats[2*tid+1]=fh
                for tid in T:
                    qd=TH[tid]['quad']
                    shift[tid]=[max(stats[2*qd],stats[2*qd+2],stats[2*qd+4],stats[2*qd+6]),max(stats[2*qd+1],stats[2*qd+3],stats[2*qd+5],stats[2*qd+7])]
            for tid in T:
                t=TH[tid]; key0=k0+t['c2']
                for j in range(8):
                    at=j*128; key=key0+8*j
                    x0=score(scratch,t['sLo']+at,key,nk,t['queryLo'],causal,scale); x1=score(scratch,t['sLo']+at+1,key+1,nk,t['queryLo'],causal,scale)
                    y0=score(scratch,t['sHi']+at,key,nk,t['queryHi'],causal,scale); y1=score(scratch,t['sHi']+at+1,key+1,nk,t['queryHi'],causal,scale)
                    seen[tid][0]=max(seen[tid][0],x0,x1); seen[tid][1]=max(seen[tid][1],y0,y1)
                    p0=weight(x0,shift[tid][0]);p1=weight(x1,shift[tid][0]);p2=weight(y0,shift[tid][1]);p3=weight(y1,shift[tid][1])
                    sums[tid][0]+=p0+p1; sums[tid][1]+=p2+p3
                    scratch[t['sLo']+at]=p0; scratch[t['sLo']+at+1]=p1; scratch[t['sHi']+at]=p2; scratch[t['sHi']+at+1]=p3
            if wide:
                for tid in T:
                    for u in range(tid,VP_INTS,THREADS):
                        if (vcp(u)>>2)<subTiles: tiles[vTile+vslot(u)]=vpair(v,vBase,u,k0,nk,vStride,width)
            for tid in T:
                t=TH[tid]
                for j in range(8):
                    to=(j>>1)*BLOCK_INTS+((j&1)<<2); at=j*128
                    tiles[t['pLo']+to]=pair(h16(scratch[t['sLo']+at]),h16(scratch[t['sLo']+at+1]))
                    tiles[t['pHi']+to]=pair(h16(scratch[t['sHi']+at]),h16(scratch[t['sHi']+at+1]))
            for w in range(4):
                for kb in range(4):
                    bOff=(vTile<<2)+kb*2048; A=loadA(tiles,(pTile<<2)+kb*2048+w*512)
                    for n in range(8): O[w][:,8*n:8*n+8]+=A@loadB(tiles,bOff+256*n)
        for tid in T:
            stats[2*tid]=seen[tid][0]; stats[2*tid+1]=seen[tid][1]; stats[2*THREADS+2*tid]=sums[tid][0]; stats[2*THREADS+2*tid+1]=sums[tid][1]
            if seen[tid][0]-shift[tid][0]>SLACK or seen[tid][1]-shift[tid][1]>SLACK: rose[p_]=1
        if rose[p_]==1:
            for tid in T:
                qd=TH[tid]['quad']
                shift[tid]=[max(stats[2*qd],stats[2*qd+2],stats[2*qd+4],stats[2*qd+6]),max(stats[2*qd+1],stats[2*qd+3],stats[2*qd+5],stats[2*qd+7])]
            passes=2
        else:
            for w in range(4):
                tr=TH[w*32]['tileRow']
                for n in range(8):
                    frag=O[w][:,8*n:8*n+8]
                    for m in range(16):
                        for c in range(8): scratch[(tr+m)*COLUMNS+8*n+c]=np.float32(frag[m,c])
            cols=min(COLUMNS,width)
            for e in range(QUERIES*COLUMNS):
                row=e>>6; c=e&63; qi=q0+row
                if qi<nq and c<cols:
                    at=2*THREADS+2*((row>>4)*32+((row&7)<<2))+((row>>3)&1)
                    rs=(stats[at]+stats[at+2])+(stats[at+4]+stats[at+6])
                    out[(b*nq+qi)*vStride+h*dv+chunk*COLUMNS+c]=scratch[sBase+e]/rs
        p_+=1

def ref(q,k,v,B,nq,nk,heads,d,dv,scale,causal):
    Q=q.reshape(B,nq,heads,d).astype(np.float64);K=k.reshape(B,nk,heads,d).astype(np.float64);V=v.reshape(B,nk,heads,dv).astype(np.float64)
    S=np.einsum('bqhd,bkhd->bhqk',Q,K)*scale
    if causal: S=np.where(np.arange(nk)[None,None,None,:]>np.arange(nq)[None,None,:,None],-np.inf,S)
    P=np.exp(S-S.max(-1,keepdims=True));P/=P.sum(-1,keepdims=True)
    return np.einsum('bhqk,bkhd->bqhd',P,V).reshape(-1)
rng=np.random.default_rng(1)
for (B,nq,nk,heads,d,causal,later) in [(1,70,150,2,40,0,1.0),(1,70,130,1,160,0,4.0),(1,80,80,1,80,1,1.0),(1,65,140,1,64,0,6.0)]:
    q=rng.standard_normal(B*nq*heads*d).astype(np.float32);k=rng.standard_normal(B*nk*heads*d).astype(np.float32);v=rng.standard_normal(B*nk*heads*d).astype(np.float32)
    kk=k.reshape(B,nk,heads*d); kk[:,64:,:]*=later
    scale=1/np.sqrt(d)
    o=run(q,k,v,B,nq,nk,heads,d,d,scale,causal); r=ref(q,k,v,B,nq,nk,heads,d,d,scale,causal)
    print(B,nq,nk,heads,d,causal,later,"nan" if np.isnan(o).any() else "", "relL2 %.2e"%(np.linalg.norm(o-r)/np.linalg.norm(r)),flush=True)
